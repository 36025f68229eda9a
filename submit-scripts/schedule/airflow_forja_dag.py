"""Scheduled retraining with Apache Airflow: one forja run cycle a month through the Spark
provider's SparkSubmitOperator, in client deploy mode (forja run starts a Spark application per
stage from its driver). A refusal by the gate (the champion is unchanged) is a normal outcome:
--refused-exit-code 0 makes forja run exit 0 then instead of 3, since SparkSubmitOperator fails a
task on any non-zero code; the run's summary (pipeline.work/runs/RUN.json) records the decision,
and the next cycle tries again.

Needs apache-airflow-providers-apache-spark and a "spark_default" connection to the cluster.
Copy Forja's runtime jar (pipeline/target/forja-*-runtime.jar) and the pipeline file where the
workers can read them, and set the paths below.
"""
from datetime import datetime

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

FORJA_JAR = "/opt/forja/forja-runtime.jar"
PIPELINE = "/etc/forja/pipeline.yaml"

with DAG(
    dag_id="forja_retraining",
    schedule="@monthly",
    start_date=datetime(2026, 12, 1),
    catchup=False,
    max_active_runs=1,  # the registry lock refuses overlapping runs anyway
    tags=["forja"],
) as dag:
    SparkSubmitOperator(
        task_id="forja_run",
        application=FORJA_JAR,
        java_class="dev.forja.cli.Forja",
        application_args=["run", "--conf", PIPELINE, "--refused-exit-code", "0"],
        deploy_mode="client",
        conf={
            # ND4J's native memory lives outside the heap (README: Running on a cluster)
            "spark.executor.memoryOverhead": "9g",
            # On YARN: the jars forja-submit stages once (README: YARN), so that no run uploads
            # them; the application can then be .../.forja/runtime/forja-runtime.jar on HDFS too.
            # "spark.yarn.jars": "hdfs:///user/airflow/.forja/runtime/spark-jars/*.jar",
        },
        # spark-submit's exit code is forja run's: 0 done or refused by the gate, 1 failed
        spark_binary="spark-submit",
    )
