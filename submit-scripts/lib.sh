# Shared by the submit scripts: where the build put the runtime jar, its main class, the JVM
# options Spark needs on Java 17 and the Spark/Hadoop classpath. Sourced, not run.

FORJA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FORJA_TARGET="$FORJA_ROOT/pipeline/target"
FORJA_LAUNCHER="$FORJA_TARGET/launcher/launcher.properties"

forja_require_build() {
  if [ ! -f "$FORJA_LAUNCHER" ] || [ ! -f "$FORJA_ROOT/spark-dist/target/spark-classpath.txt" ]; then
    echo "forja: the project is not built; run: mvn -B -DskipTests install" >&2
    exit 2
  fi
  FORJA_MAIN_CLASS=$(sed -n 's/^main.class=//p' "$FORJA_LAUNCHER")
  FORJA_JAR="$FORJA_TARGET/$(sed -n 's/^runtime.jar=//p' "$FORJA_LAUNCHER")"
  if [ ! -f "$FORJA_JAR" ]; then
    echo "forja: $FORJA_JAR is missing; run: mvn -B -DskipTests install" >&2
    exit 2
  fi
  FORJA_SPARK_CP=$(cat "$FORJA_ROOT/spark-dist/target/spark-classpath.txt")
  # forja bench lives in its own jar (the bench module), used beside the runtime jar when built.
  FORJA_BENCH_JAR=
  local bench_props="$FORJA_ROOT/bench/target/launcher/bench.properties" bench_jar
  if [ -f "$bench_props" ]; then
    bench_jar="$FORJA_ROOT/bench/target/$(sed -n 's/^bench.jar=//p' "$bench_props")"
    [ ! -f "$bench_jar" ] || FORJA_BENCH_JAR=$bench_jar
  fi
  # --add-opens set for Spark on Java 17 and ND4J native-memory caps (from the pom).
  read -r -a FORJA_JVM_OPTS < "$FORJA_TARGET/launcher/jvm-options.txt"
  # The throughput collector: Forja's jobs are batch jobs, and on few cores G1's concurrent work
  # competes with the tasks. A collector named in FORJA_JAVA_OPTS (or FORJA_GC=default: the JVM's)
  # wins.
  if [[ "${FORJA_JAVA_OPTS:-}" != *-XX:+Use*GC* && "${FORJA_GC:-parallel}" == parallel ]]; then
    FORJA_JVM_OPTS+=(-XX:+UseParallelGC)
  fi
  # Spark generates classes for every query: with the JVM's ~21 MB first metaspace threshold each
  # growth past it costs a full collection.
  if [[ "${FORJA_JAVA_OPTS:-}" != *MetaspaceSize* ]]; then
    FORJA_JVM_OPTS+=(-XX:MetaspaceSize=256m)
  fi
  FORJA_LOG_OPTS=(-Dlog4j2.configurationFile="$FORJA_ROOT/conf/log4j2.properties")
  # ND4J threads spin-wait by default: 20-37x slower on shared hosts.
  export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
  export SPARK_SCALA_VERSION=${SPARK_SCALA_VERSION:-2.13}
  # the source's commit, for forja run's lineage (none outside a git checkout)
  if [ -z "${FORJA_GIT_COMMIT:-}" ]; then
    FORJA_GIT_COMMIT=$(git -C "$FORJA_ROOT" rev-parse --short=12 HEAD 2> /dev/null || echo unknown)
    export FORJA_GIT_COMMIT
  fi
  forja_blas_core
}

# OpenBLAS picks its kernels (its "core") from the CPU when it loads, and ND4J's OpenBLAS 0.3.19
# predates AMD's Zen 5: it falls back to generic SSE kernels there (a third of the AVX2 kernels'
# sgemm rate; docs/stack.md), and takes Zen 4 for an AVX2 Zen. With
# OPENBLAS_CORETYPE unset, an AMD CPU with the AVX-512 subsets of OpenBLAS's SkylakeX kernels gets
# those, and a Zen 5 without them the Haswell ones (dev.forja.training.runtime.BlasKernels decides
# the same and tells JVMs this script did not start, such as Spark executors, what to set).
forja_blas_core() {
  [ -z "${OPENBLAS_CORETYPE:-}" ] || return 0
  local cpuinfo=${FORJA_CPUINFO:-/proc/cpuinfo} vendor family flags f  # FORJA_CPUINFO: for tests
  [ -r "$cpuinfo" ] || return 0
  vendor=$(awk -F'\t*: *' '/^vendor_id/ {print $2; exit}' "$cpuinfo")
  family=$(awk -F'\t*: *' '/^cpu family/ {print $2; exit}' "$cpuinfo")
  flags=" $(awk -F'\t*: *' '/^flags/ {print $2; exit}' "$cpuinfo") "
  [ "$vendor" = AuthenticAMD ] || return 0
  forja_cpu_has() { for f in "$@"; do case "$flags" in *" $f "*) ;; *) return 1 ;; esac; done; }
  if forja_cpu_has avx512f avx512cd avx512bw avx512dq avx512vl; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif [[ "$family" =~ ^[0-9]+$ ]] && [ "$family" -ge 26 ] && forja_cpu_has avx2 fma; then
    export OPENBLAS_CORETYPE=Haswell
  fi
}

# ND4J's native-memory caps (-Dorg.bytedeco.javacpp.maxbytes / maxphysicalbytes): FORJA_NATIVE_MEMORY
# (e.g. 12g) or, by default, 70% of this machine's memory less the Java heap ($1, e.g. 4g).
# forja train checks its configuration against the cap before it allocates anything.
forja_native_opts() {
  local heap_g=${1%g} total_kb native_g
  if [ -n "${FORJA_NATIVE_MEMORY:-}" ]; then
    native_g=${FORJA_NATIVE_MEMORY%g}
  else
    total_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
    native_g=$(( total_kb * 7 / 10 / 1048576 - heap_g ))
    [ "$native_g" -ge 2 ] || native_g=2
  fi
  echo "-Dorg.bytedeco.javacpp.maxbytes=${native_g}G -Dorg.bytedeco.javacpp.maxphysicalbytes=$(( native_g + heap_g + 1 ))G"
}

forja_java() {
  if [ -n "${JAVA_HOME:-}" ]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

# The Python the comparison scripts (bench-train-vs-pytorch, bench-decode-vs-transformers) run
# their peers with: FORJA_PYTHON, or a virtual environment under work/ (FORJA_BENCH_VENV) holding
# the pinned peers, installed on first use. Prints the interpreter's path.
forja_bench_python() {
  if [ -n "${FORJA_PYTHON:-}" ]; then
    echo "$FORJA_PYTHON"
    return
  fi
  local pins="torch==2.13.0+cpu transformers==5.17.0 peft==0.21.0 numpy sacrebleu==2.6.0 torchmetrics==1.9.0 nltk==3.10.3"
  local venv=${FORJA_BENCH_VENV:-$FORJA_ROOT/work/venv-bench}
  if [ "$(cat "$venv/.complete" 2>/dev/null)" != "$pins" ]; then
    echo "== installing $pins into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    # --retries 0: where pip's configured indexes are local wheel directories, never wait on PyPI
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --retries 0 --disable-pip-version-check $pins >&2
    echo "$pins" > "$venv/.complete"
  fi
  echo "$venv/bin/python"
}
