package dev.forja.training.eval;

import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.training.hf.HfModel;
import dev.forja.training.hf.PeftAdapter;
import dev.forja.training.model.GptModel;
import dev.forja.training.train.EvalResult;
import dev.forja.training.train.MetricsLog;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainListener;
import dev.forja.training.train.Trainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code train.eval-suite}: at every evaluation point, the suite's tasks (latency aside) on the
 * model as it stands (a LoRA run's adapter merged into a copy of the base), in the driver; each
 * metric goes to {@code metrics.jsonl} as a {@code "suite"} line and to the chart beside the loss
 * plot. The suite's data are read and checked once, when the run starts.
 */
public final class SuiteListener implements TrainListener {
  private final Evaluation evaluation;
  private final Map<String, Examples.Read> data;
  private final GptModel model;
  private final TrainConfig train;
  private final BpeTokenizer tokenizer;
  private final HfModel.Specials specials;
  private final MetricsLog metrics;

  public SuiteListener(
      Storage storage,
      URI suite,
      GptModel model,
      TrainConfig train,
      BpeTokenizer tokenizer,
      Map<String, String> carried,
      MetricsLog metrics,
      PrintWriter log)
      throws IOException {
    EvalSuite s = EvalSuite.parse(storage.readString(suite), suite);
    this.evaluation = new Evaluation(storage, s, null, log);
    this.data = evaluation.readData();
    this.model = model;
    this.train = train;
    this.tokenizer = tokenizer;
    this.specials = HfModel.Specials.of(tokenizer, carried);
    this.metrics = metrics;
  }

  @Override
  public void onEval(Trainer trainer, EvalResult eval) {
    Map<String, INDArray> weights =
        train.lora().enabled()
            ? PeftAdapter.merge(
                model.config(),
                model.weights(),
                new PeftAdapter.Adapter(train.lora().settings(), model.parameters(), "", ""))
            : model.weights();
    EvalModel m =
        new EvalModel(
            "step-" + eval.step(),
            model.config(),
            weights,
            tokenizer,
            specials,
            0,
            "the run at step " + eval.step());
    Evaluation.Result r;
    try {
      r = evaluation.runInDriver(m, data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Map<String, Double> values = new LinkedHashMap<>();
    for (Evaluation.Metric x : r.metrics()) {
      if (!x.metric().endsWith("_precision") && !x.metric().endsWith("_recall")) {
        values.put(x.task() + "/" + x.metric(), x.value());
      }
    }
    metrics.suite(eval.step(), values);
  }
}
