package dev.forja.prep.sft;

import dev.forja.config.ConfigReader;
import java.io.Serializable;
import java.util.List;

/**
 * How {@code forja sft-data} turns instruction and chat examples into training rows.
 *
 * @param sequenceLength {@code sft.sequence-length}: tokens per row, the fine-tune's sequence
 *     length.
 * @param packing {@code sft.packing}: several examples per row (each attending only to itself, its
 *     positions from 0), else one example per row, padded.
 * @param trainOnInputs {@code sft.train-on-inputs}: train on system and user turns and prompts as
 *     well as on the assistant's turns.
 * @param overlong {@code sft.overlong}: {@code drop} (quarantined, reason {@code too-long}) or
 *     {@code truncate} (the first tokens kept, counted) for an example longer than a row.
 * @param template {@code sft.template}: {@code auto} renders with the model's chat template when it
 *     has one and joins plainly otherwise; {@code plain} always joins plainly.
 * @param validationFraction {@code sft.validation-fraction}: share of examples in the validation
 *     split, chosen by a hash of the example's id.
 */
public record SftConfig(
    int sequenceLength,
    boolean packing,
    boolean trainOnInputs,
    String overlong,
    String template,
    double validationFraction)
    implements Serializable {

  public static SftConfig read(ConfigReader r) {
    int len =
        r.intIn(
            "sft.sequence-length",
            512,
            8,
            1 << 20,
            "Tokens per training row: the fine-tune's sequence length (at most the model's"
                + " context).");
    boolean packing =
        r.bool(
            "sft.packing",
            true,
            "Pack several examples per row, each attending only to itself with positions from 0;"
                + " false: one example per row, padded.");
    boolean inputs =
        r.bool(
            "sft.train-on-inputs",
            false,
            "Train on prompts and user/system turns too; false: only on the assistant's turns"
                + " (always with their end-of-turn token).");
    String overlong =
        r.choice(
            "sft.overlong",
            "drop",
            List.of("drop", "truncate"),
            "An example longer than a row: drop (quarantined as too-long) or truncate (counted).");
    String template =
        r.choice(
            "sft.template",
            "auto",
            List.of("auto", "plain"),
            "auto: the model's chat template (tokenizer_config.json) when it has one, else plain;"
                + " plain: prompt + completion + EOS, or 'role: content' lines.");
    double v =
        r.doubleIn(
            "sft.validation-fraction",
            0.05,
            0,
            0.5,
            "Share of examples in the validation split (by a hash of the example id).");
    return new SftConfig(len, packing, inputs, overlong, template, v);
  }
}
