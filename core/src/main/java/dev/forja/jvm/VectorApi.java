package dev.forja.jvm;

/**
 * Whether this JVM can run Forja's Vector API loops ({@code jdk.incubator.vector}, an incubator
 * module that Spark's JVM options and {@code submit-scripts/} add). Classes that use the API are
 * loaded only when {@link #AVAILABLE}; every such loop has a scalar twin that gives the same
 * result, and {@code -Dforja.vector=false} forces the scalar twins (the build runs the tests both
 * ways).
 */
public final class VectorApi {
  /** The system property that switches the Vector API off when {@code false}. */
  public static final String PROPERTY = "forja.vector";

  /** The module is in this JVM's boot layer and {@code -Dforja.vector=false} is not set. */
  public static final boolean AVAILABLE =
      ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
          && !"false".equals(System.getProperty(PROPERTY));

  private VectorApi() {}
}
