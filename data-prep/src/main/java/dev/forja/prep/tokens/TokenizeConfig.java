package dev.forja.prep.tokens;

import dev.forja.config.ConfigReader;
import java.io.Serializable;

/**
 * How {@code forja tokenize} turns documents into shards.
 *
 * @param validationFraction {@code tokenize.validation-fraction}: share of documents in the
 *     validation split, chosen by a hash of the document id (a document never changes split when
 *     data is added); default 0.01.
 * @param eosToken {@code tokenize.eos-token}: the special token appended after each document;
 *     default {@code <|endoftext|>}.
 * @param replayRatio {@code tokenize.replay-ratio}: the share of the training split's documents
 *     taken from earlier windows ({@code forja tokenize --replay}, the pipeline's earlier
 *     champions' prep outputs); default 0.
 */
public record TokenizeConfig(double validationFraction, String eosToken, double replayRatio)
    implements Serializable {

  public static TokenizeConfig read(ConfigReader r) {
    double v =
        r.doubleIn(
            "tokenize.validation-fraction",
            0.01,
            0,
            0.5,
            "Share of documents in the validation split (by document-id hash).");
    String eos =
        r.string(
            "tokenize.eos-token", "<|endoftext|>", "Special token appended after each document.");
    double replay =
        r.doubleIn(
            "tokenize.replay-ratio",
            0,
            0,
            0.9,
            "Share of the training split's documents replayed from earlier windows (tokenize"
                + " --replay; forja run: the earlier champions' prep outputs), chosen by"
                + " document-id hash; 0: none.");
    return new TokenizeConfig(v, eos, replay);
  }
}
