package dev.forja.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Random strings built from the characters where tokenizers disagree. */
final class Adversarial {
  private static final String[] PIECES = {
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\u00a0",
    "\u3000",
    "\u2009",
    "\u202f",
    "\u2028",
    "\u0085",
    "\u000b",
    "\u001f",
    "\u200b",
    "\u200d",
    "\ufeff",
    "a",
    "Z",
    "é",
    "e\u0301",
    "ß",
    "İ",
    "ǅ",
    "'",
    "'s",
    "'S",
    "'ll",
    "'re",
    "'ve",
    "'d",
    "'m",
    "'t",
    "’",
    "0",
    "7",
    "12",
    "½",
    "²",
    "Ⅻ",
    "٣",
    "!",
    "?",
    ".",
    ",",
    "-",
    "_",
    "$",
    "€",
    "(",
    ")",
    "<|endoftext|>",
    "😀",
    "👍🏽",
    "👨‍👩‍👧",
    "🇧🇷",
    "中",
    "文字",
    "カタカナ",
    "한",
    "ع",
    "ह",
    "𝔘",
    "𠀀",
    "\ue000",
    "word",
    "Word",
    "the",
    " the",
    "don't",
    "https://x.y/z",
    "::",
    "...",
    "---",
    "  \n",
    "\n\n\n"
  };

  private Adversarial() {}

  static List<String> strings(Random rnd, int n) {
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      StringBuilder sb = new StringBuilder();
      int len = 1 + rnd.nextInt(12);
      for (int j = 0; j < len; j++) {
        sb.append(PIECES[rnd.nextInt(PIECES.length)]);
      }
      out.add(sb.toString());
    }
    return out;
  }

  static String escape(String s) {
    StringBuilder sb = new StringBuilder();
    s.codePoints()
        .forEach(
            c -> {
              if (c < 0x20 || (c >= 0x7f && c < 0xa0) || Character.isWhitespace(c) && c != ' ') {
                sb.append(String.format("\\u%04x", c));
              } else {
                sb.appendCodePoint(c);
              }
            });
    return sb.toString();
  }
}
