package dev.forja.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.JavaSerializer;
import org.apache.spark.serializer.KryoRegistrator;

/**
 * Kryo settings for Forja's records. Spark's Kryo cannot build its field serializer for Java
 * records (it needs field offsets records do not give), so every record, wherever it appears in an
 * RDD, falls back to Java serialization; Forja's bulk types (documents, signatures) are plain
 * classes and arrays that Kryo handles itself.
 */
public final class ForjaKryoRegistrator implements KryoRegistrator {
  @Override
  public void registerClasses(Kryo kryo) {
    kryo.addDefaultSerializer(Record.class, JavaSerializer.class);
  }
}
