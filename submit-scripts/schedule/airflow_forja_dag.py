"""Scheduled retraining with Apache Airflow: one forja run cycle a month through the Spark
provider's SparkSubmitOperator, in client deploy mode (forja run starts a Spark application per
stage from its driver). Exit code 3 (the gate refused the candidate; the champion is unchanged) is
a normal outcome: the task succeeds and the next cycle tries again.

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
        application_args=["run", "--conf", PIPELINE],
        deploy_mode="client",
        conf={
            # ND4J's native memory lives outside the heap (README: Running on a cluster)
            "spark.executor.memoryOverhead": "9g",
        },
        # spark-submit's exit code is forja run's: 3 means "not promoted", not a failure
        spark_binary="spark-submit",
    )
