package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.prep.tokens.TokenizerConfig;
import dev.forja.prep.tokens.TokenizerTrainJob;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja tokenizer train|encode|decode}. */
@Command(
    name = "tokenizer",
    description = "Train a byte-level BPE tokenizer on a prep output, or check one by hand.",
    subcommands = {
      TokenizerCommand.Train.class,
      TokenizerCommand.Encode.class,
      TokenizerCommand.Decode.class
    })
final class TokenizerCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "Missing subcommand: train, encode or decode");
  }

  @Command(
      name = "train",
      description =
          "Count pre-tokens with Spark and learn BPE merges; writes tokenizer.json, vocab.json,"
              + " merges.txt and tokenizer-stats.json.")
  static final class Train implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--input",
        required = true,
        paramLabel = "URI",
        description = "A forja prep output.")
    URI input;

    @Option(
        names = "--output",
        required = true,
        paramLabel = "URI",
        description = "Output directory.")
    URI output;

    @Option(
        names = "--vocab-size",
        paramLabel = "N",
        description = "Vocabulary size (tokenizer.vocab-size).")
    Integer vocabSize;

    @Option(
        names = "--special-tokens",
        split = ",",
        paramLabel = "TOKEN",
        description = "Special tokens, comma-separated (tokenizer.special-tokens).")
    List<String> specials;

    @Option(
        names = "--pattern",
        paramLabel = "gpt2|cl100k",
        description = "Pre-tokenizer pattern (tokenizer.pattern).")
    String pattern;

    @Option(names = "--overwrite", description = "Replace the output if it holds data.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
      if (vocabSize != null) {
        config.overrides.add("tokenizer.vocab-size=" + vocabSize);
      }
      if (pattern != null) {
        config.overrides.add("tokenizer.pattern=" + pattern);
      }
      if (specials != null) {
        config.overrides.add("tokenizer.special-tokens=" + String.join(",", specials));
      }
      ForjaConfig cfg = config.load();
      TokenizerConfig tc = cfg.tokenizer();
      TokenizerTrainJob.Result r =
          Jobs.withSpark(
              cfg,
              "tokenizer train",
              List.of(input, output),
              spark ->
                  TokenizerTrainJob.run(
                      spark, new Storage(cfg.storage()), tc, input, output, overwrite));
      var s = r.stats();
      var out = spec.commandLine().getOut();
      out.printf(
          Locale.ROOT,
          "Tokenizer %s: %,d tokens (%,d merges; stopped: %s)%n"
              + "  %,d pre-tokens (%,d distinct), %.2f bytes per token on the training text%n"
              + "  counted in %.1f s (Spark), merged in %.1f s%n"
              + "  wrote %s%n",
          r.tokenizerHash().substring(0, 12),
          s.vocabSize(),
          s.merges(),
          s.stopReason(),
          s.preTokens(),
          s.distinctPreTokens(),
          s.bytesPerToken(),
          r.countSeconds(),
          s.seconds(),
          Storage.resolve(output, TokenizerFiles.TOKENIZER_JSON));
      out.flush();
      return 0;
    }
  }

  /** Options shared by encode and decode. */
  static class Io {
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--tokenizer",
        required = true,
        paramLabel = "URI",
        description =
            "A tokenizer.json, or a directory with tokenizer.json or vocab.json + merges.txt.")
    URI tokenizer;

    @Option(names = "--input", paramLabel = "FILE", description = "Input file; default stdin.")
    Path input;

    @Option(names = "--output", paramLabel = "FILE", description = "Output file; default stdout.")
    Path output;

    BpeTokenizer load() throws Exception {
      ForjaConfig cfg = config.load();
      Storage storage = new Storage(cfg.storage());
      storage.requireUsable(tokenizer);
      return TokenizerFiles.load(storage, tokenizer);
    }

    BufferedReader reader() throws Exception {
      Reader r =
          input == null
              ? new InputStreamReader(System.in, StandardCharsets.UTF_8)
              : Files.newBufferedReader(input, StandardCharsets.UTF_8);
      return new BufferedReader(r);
    }

    Writer writer() throws Exception {
      return output == null
          ? new BufferedWriter(
              new OutputStreamWriter(System.out, StandardCharsets.UTF_8)) // not closed: stdout
          : Files.newBufferedWriter(output, StandardCharsets.UTF_8);
    }

    /** Flushes stdout, or closes the output file. */
    void finish(Writer out) throws Exception {
      if (output == null) {
        out.flush();
      } else {
        out.close();
      }
    }
  }

  @Command(
      name = "encode",
      description =
          "Text in, one line of space-separated token ids per input line out. Special-token text"
              + " becomes its id unless --plain.")
  static final class Encode extends Io implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--plain", description = "Treat special-token text as ordinary text.")
    boolean plain;

    @Override
    public Integer call() throws Exception {
      BpeTokenizer t = load();
      try (BufferedReader in = reader()) {
        Writer out = writer();
        String line;
        StringBuilder sb = new StringBuilder();
        while ((line = in.readLine()) != null) {
          int[] ids = plain ? t.encode(line) : t.encodeWithSpecials(line);
          sb.setLength(0);
          for (int i = 0; i < ids.length; i++) {
            if (i > 0) {
              sb.append(' ');
            }
            sb.append(ids[i]);
          }
          out.write(sb.append('\n').toString());
        }
        finish(out);
      }
      return 0;
    }
  }

  @Command(
      name = "decode",
      description = "Lines of space-separated token ids in, one line of text per input line out.")
  static final class Decode extends Io implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      BpeTokenizer t = load();
      try (BufferedReader in = reader()) {
        Writer out = writer();
        String line;
        int n = 0;
        while ((line = in.readLine()) != null) {
          n++;
          List<Integer> ids = new ArrayList<>();
          for (String tok : line.trim().split("\\s+")) {
            if (tok.isEmpty()) {
              continue;
            }
            int id;
            try {
              id = Integer.parseInt(tok);
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException(
                  "line " + n + ": '" + tok + "' is not a token id (expected integers)");
            }
            if (id < 0 || id >= t.vocabSize()) {
              throw new IllegalArgumentException(
                  "line "
                      + n
                      + ": token id "
                      + id
                      + " is outside the vocabulary (0.."
                      + (t.vocabSize() - 1)
                      + ")");
            }
            ids.add(id);
          }
          out.write(t.decode(ids.stream().mapToInt(Integer::intValue).toArray()));
          out.write('\n');
        }
        finish(out);
      }
      return 0;
    }
  }
}
