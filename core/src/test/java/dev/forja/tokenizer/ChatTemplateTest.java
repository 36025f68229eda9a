package dev.forja.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {
  static final String CHATML =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] +"
          + " '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{"
          + " '<|im_start|>assistant\\n' }}{% endif %}";

  static final String ALTERNATING =
      "{{ bos_token }}{% for message in messages %}\n"
          + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
          + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}\n"
          + "{% endif %}\n"
          + "{% if message['role'] == 'user' %}\n"
          + "{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}\n"
          + "{% elif message['role'] == 'assistant' %}\n"
          + "{{ ' ' + message['content'] | trim + ' ' + eos_token }}\n"
          + "{% endif %}\n"
          + "{% endfor %}";

  private static final List<ChatTemplate.Message> CHAT =
      List.of(
          new ChatTemplate.Message("user", "Hi there"),
          new ChatTemplate.Message("assistant", "Hello!"),
          new ChatTemplate.Message("user", "Reverse: a b"));

  @Test
  void rendersChatMlWithAndWithoutTheGenerationPrompt() {
    ChatTemplate t = new ChatTemplate(CHATML, Map.of("eos_token", "<|im_end|>"));
    assertThat(t.render(CHAT, true))
        .isEqualTo(
            "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
                + "<|im_start|>user\nReverse: a b<|im_end|>\n<|im_start|>assistant\n");
    assertThat(t.render(CHAT.subList(0, 2), false)).endsWith("Hello!<|im_end|>\n");
  }

  @Test
  void trimsBlocksAndRaisesTheTemplatesOwnErrorWithItsLine() {
    ChatTemplate t = new ChatTemplate(ALTERNATING, Map.of("bos_token", "<s>", "eos_token", "</s>"));
    assertThat(t.render(CHAT, false))
        // trim_blocks strips the newline after a block tag, not after an expression
        .isEqualTo("<s>[INST] Hi there [/INST]\n Hello! </s>\n[INST] Reverse: a b [/INST]\n");
    assertThatThrownBy(() -> t.render(List.of(new ChatTemplate.Message("assistant", "x")), false))
        .isInstanceOf(ChatTemplate.TemplateException.class)
        .hasMessageContaining("Conversation roles must alternate")
        .hasMessageContaining("at line 1"); // Jinjava names the enclosing block's line
    ChatTemplate broken =
        new ChatTemplate("{{ bos_token }}\n{% if messages %}\n{{ x | nosuchfilter }}\n", Map.of());
    assertThatThrownBy(() -> broken.render(CHAT, false))
        .isInstanceOf(ChatTemplate.TemplateException.class)
        .hasMessageContaining("line");
  }

  @Test
  void readsTheTemplateAndTokensOfATokenizerConfig() {
    String json =
        "{\"chat_template\": \"{{ bos_token }}x\", \"bos_token\": {\"content\": \"<s>\"},"
            + " \"eos_token\": \"</s>\"}";
    ChatTemplate t = ChatTemplate.fromTokenizerConfig(json, "tc").orElseThrow();
    assertThat(t.render(List.of(), false)).isEqualTo("<s>x");
    assertThat(t.token("eos_token")).isEqualTo("</s>");
    assertThat(ChatTemplate.fromTokenizerConfig("{}", "tc")).isEmpty();
  }
}
