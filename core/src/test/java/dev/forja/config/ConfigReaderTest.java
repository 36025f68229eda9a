package dev.forja.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigReaderTest {
  @TempDir Path dir;

  private static ConfigReader reader(String... overrides) {
    return new ConfigReader(ConfigSource.load(List.of(), List.of(overrides)));
  }

  @Test
  void defaultsApplyWhenNothingIsSet() {
    ConfigReader r = reader();
    assertThat(r.intIn("train.micro-batch-size", 8, 1, 1024, "doc")).isEqualTo(8);
    assertThat(r.bool("train.flag", true, "doc")).isTrue();
    assertThat(r.list("prep.languages", List.of("en", "es"), "doc")).containsExactly("en", "es");
    r.finish();
  }

  @Test
  void nestedAndDottedYamlFlattenToTheSameKeys() throws Exception {
    Path f = dir.resolve("a.yaml");
    Files.writeString(
        f,
        "train:\n  micro-batch-size: 4\n  lr: 0.01\nprep.languages: [en, pt]\nstorage.s3.region: eu-west-1\n");
    ConfigReader r = new ConfigReader(ConfigSource.load(List.of(f), List.of("train.lr=0.5")));
    assertThat(r.intIn("train.micro-batch-size", 8, 1, 1024, "")).isEqualTo(4);
    assertThat(r.doubleIn("train.lr", 1e-3, 0, 10, "")).isEqualTo(0.5); // --set wins
    assertThat(r.list("prep.languages", List.of(), "")).containsExactly("en", "pt");
    assertThat(r.string("storage.s3.region", "us-east-1", "")).isEqualTo("eu-west-1");
    r.finish();
  }

  @Test
  void unknownKeyNamesTheNearestValidKey() {
    ConfigReader r = reader("train.micro-bach-size=4");
    r.intIn("train.micro-batch-size", 8, 1, 1024, "");
    assertThatThrownBy(r::finish)
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("unknown key 'train.micro-bach-size'")
        .hasMessageContaining("did you mean 'train.micro-batch-size'?");
  }

  @Test
  void everyProblemIsReportedTogetherWithKeyValueAndFix() {
    ConfigReader r = reader("a.count=lots", "a.size=0", "a.flag=maybe", "a.mode=fast", "zzz.qqq=1");
    r.intIn("a.count", 1, 1, 10, "");
    r.intIn("a.size", 1, 1, 10, "");
    r.bool("a.flag", false, "");
    r.choice("a.mode", "slow", List.of("slow", "fest"), "");
    ConfigException e =
        org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, r::finish);
    assertThat(e.problems()).hasSize(5);
    assertThat(e.getMessage())
        .contains("a.count (in --set): 'lots' is not a whole number")
        .contains("a.size (in --set): 0 is out of range; use a value from 1 to 10")
        .contains("a.flag (in --set): 'maybe' is not a boolean; use true or false")
        .contains("a.mode (in --set): 'fast' is not one of [slow, fest] (did you mean 'fest'?)")
        .contains("unknown key 'zzz.qqq'");
  }

  @Test
  void secretValuesNeverAppearInErrors() {
    ConfigReader r = reader("storage.s3.secret-key=[hunter2]");
    Path unused = dir;
    r.secret("storage.s3.secret-key", "");
    r.intIn("storage.s3.secret-key", 1, 1, 2, ""); // a type error on a secret key
    assertThatThrownBy(r::finish)
        .hasMessageNotContaining("hunter2")
        .hasMessageContaining("not shown");
    assertThat(unused).exists();
  }

  @Test
  void missingOrMalformedFilesAreNamed() throws Exception {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "train: [unclosed\n");
    assertThatThrownBy(
            () -> ConfigSource.load(List.of(dir.resolve("nope.yaml"), bad), List.of("novalue")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("cannot read config file '" + dir.resolve("nope.yaml") + "'")
        .hasMessageContaining("cannot parse config file '" + bad + "'")
        .hasMessageContaining("--set 'novalue' must have the form key=value");
  }

  @Test
  void passThroughKeysAreAcceptedUnderTheirPrefix() {
    ConfigReader r = reader("spark.conf.spark.executor.memory=2g");
    assertThat(r.passThrough("spark.conf", "")).containsEntry("spark.executor.memory", "2g");
    r.finish();
  }

  @Test
  void suggestionOnlyWhenClose() {
    assertThat(
            Suggest.nearest("storage.s3.endpont", List.of("storage.s3.endpoint", "spark.master")))
        .isEqualTo("storage.s3.endpoint");
    assertThat(Suggest.nearest("completely.different", List.of("spark.master"))).isNull();
  }
}
