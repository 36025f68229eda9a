package dev.forja.bench;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rules of Forja's structure, checked on the compiled classes of every module (this module sees
 * them all): packages form no cycle, and each module uses only what it declares.
 */
class ArchitectureTest {
  private static JavaClasses forja;

  @BeforeAll
  static void importClasses() {
    forja =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.forja");
    // every module's classes are here, or the rules below would pass on nothing
    for (String c :
        List.of(
            "dev.forja.storage.Storage",
            "dev.forja.prep.job.PrepJob",
            "dev.forja.training.model.GptModel",
            "dev.forja.cli.Forja",
            "dev.forja.bench.BenchCommand")) {
      assertThat(forja.contain(c)).as(c).isTrue();
    }
  }

  @Test
  void packagesFormNoCycle() {
    slices().matching("dev.forja.(**)").should().beFreeOfCycles().check(forja);
  }

  @Test
  void trainingDoesNotUseDataPrep() {
    noClasses()
        .that()
        .resideInAPackage("dev.forja.training..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("dev.forja.prep..")
        .check(forja);
  }

  @Test
  void theModelKnowsNothingOfSparkOrStorage() {
    noClasses()
        .that()
        .resideInAPackage("dev.forja.training.model..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.apache.spark..", "org.apache.hadoop..", "dev.forja.storage..")
        .check(forja);
  }

  @Test
  void onlyTheBenchModuleUsesTheBenchmarksPeers() {
    noClasses()
        .that()
        .resideOutsideOfPackage("dev.forja.bench..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("com.knuddels.jtokkit..")
        .check(forja);
  }
}
