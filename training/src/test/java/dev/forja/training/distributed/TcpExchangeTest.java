package dev.forja.training.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.training.train.RoundStats;
import dev.forja.training.train.TrainState;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The driver's weight exchange over real sockets: the bytes, and who and what it refuses. */
class TcpExchangeTest {
  private final TcpExchange exchange = new TcpExchange("127.0.0.1", "127.0.0.1", 0);

  @AfterEach
  void close() {
    exchange.close();
  }

  static Map<String, INDArray> arrays(long seed, DataType type) {
    Nd4j.getRandom().setSeed(seed);
    Map<String, INDArray> m = new LinkedHashMap<>();
    m.put("transformer.wte.weight", Nd4j.rand(type, 300, 7));
    m.put("transformer.h.0.ln_1.bias", Nd4j.rand(type, 7));
    m.put("lm_head.weight", Nd4j.rand(type, 7, 300));
    m.put("big", Nd4j.rand(type, 3, 200_001)); // 2.4 MB: crosses the 1 MiB copy chunks
    return m;
  }

  static Map<String, INDArray> zerosLike(Map<String, INDArray> m) {
    Map<String, INDArray> z = new LinkedHashMap<>();
    m.forEach((k, v) -> z.put(k, Nd4j.zeros(v.dataType(), v.shape())));
    return z;
  }

  /** Each array's name and the SHA-256 of its bytes: equal only if every bit is. */
  static List<String> bits(Map<String, INDArray> m) {
    return bits(Tensors.of(m));
  }

  static List<String> bits(Tensors t) {
    List<String> out = new java.util.ArrayList<>();
    for (int i = 0; i < t.size(); i++) {
      try {
        byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(t.data().get(i));
        out.add(t.names().get(i) + " " + java.util.HexFormat.of().formatHex(d));
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new AssertionError(e);
      }
    }
    return out;
  }

  static WorkerResult finished(int worker, int attempt, Exchange.Delivered d) {
    return new WorkerResult(
        new RoundStats.Worker(worker, 1.0, 10, 0.1, "exec", "cpu", attempt, 0.2, 0),
        TrainState.start(1),
        0.5,
        d);
  }

  @Test
  void workersFetchTheRoundsArraysAndTheDriverCollectsWhatEachDelivered() {
    Map<String, INDArray> params = arrays(1, DataType.FLOAT);
    Map<String, INDArray> moments = arrays(2, DataType.FLOAT);
    Exchange.Handle h = exchange.publish(3, params, moments);
    assertThat(h.bytesOut()).isEqualTo(Tensors.bytes(params) * 2);

    Map<String, INDArray> p = zerosLike(params);
    Map<String, INDArray> m = zerosLike(moments);
    h.fetch(0, p, m);
    assertThat(bits(p)).isEqualTo(bits(params));
    assertThat(bits(m)).isEqualTo(bits(moments));

    // worker 1's first attempt delivers, then "fails"; its second attempt delivers other arrays
    Map<String, INDArray> w1 = arrays(5, DataType.FLOAT);
    Map<String, INDArray> w1Moments = arrays(6, DataType.FLOAT);
    h.deliver(1, 0, arrays(9, DataType.FLOAT), arrays(9, DataType.FLOAT));
    Exchange.Delivered d1 = h.deliver(1, 1, w1, w1Moments);
    Exchange.Delivered d0 = h.deliver(0, 0, p, m);
    assertThat(d1.bytes()).isEqualTo(2 * Tensors.bytes(w1));
    assertThat(d1.parameters()).isNull(); // the arrays went by the socket, not the task result

    List<Exchange.Returned> got =
        exchange.collect(h, List.of(finished(0, 0, d0), finished(1, 1, d1)));
    assertThat(bits(got.get(0).parameters())).isEqualTo(bits(params));
    assertThat(bits(got.get(1).parameters())).isEqualTo(bits(w1)); // the attempt that succeeded
    assertThat(bits(got.get(1).moments())).isEqualTo(bits(w1Moments));
  }

  @Test
  void withoutMomentsOnlyParametersTravel() {
    Map<String, INDArray> params = arrays(1, DataType.DOUBLE);
    Exchange.Handle h = exchange.publish(1, params, null);
    Map<String, INDArray> p = zerosLike(params);
    h.fetch(0, p, null);
    assertThat(bits(p)).isEqualTo(bits(params));
    Exchange.Delivered d = h.deliver(0, 0, p, null);
    List<Exchange.Returned> got = exchange.collect(h, List.of(finished(0, 0, d)));
    assertThat(got.get(0).moments()).isNull();
    assertThat(got.get(0).parameters().dtype()).isEqualTo(DataType.DOUBLE);
    assertThat(bits(got.get(0).parameters())).isEqualTo(bits(params));
  }

  @Test
  void aStragglerFromAnEarlierRoundIsRefused() {
    Map<String, INDArray> params = arrays(1, DataType.FLOAT);
    Exchange.Handle old = exchange.publish(1, params, null);
    exchange.publish(2, params, null);
    assertThatThrownBy(() -> old.fetch(0, zerosLike(params), null))
        .hasMessageContaining("the driver refused worker 0 in round 1")
        .hasMessageContaining("round 1 is not being served (round 2 is)");
  }

  @Test
  void aClientWithoutTheRunsTokenIsRefused() {
    Map<String, INDArray> params = arrays(1, DataType.FLOAT);
    TcpExchange.TcpHandle h = (TcpExchange.TcpHandle) exchange.publish(1, params, null);
    var forged = new TcpExchange.TcpHandle(h.host(), h.port(), new byte[16], 1, h.bytesOut());
    assertThatThrownBy(() -> forged.deliver(0, 0, params, null))
        .hasMessageContaining("wrong token");
    assertThatThrownBy(() -> exchange.collect(h, List.of(finished(0, 0, null))))
        .hasMessageContaining(
            "worker 0 (attempt 0) finished round 1 but its weights never reached");
  }

  @Test
  void arraysThatDoNotMatchTheWorkersModelAreAnError() {
    Map<String, INDArray> params = arrays(1, DataType.FLOAT);
    Exchange.Handle h = exchange.publish(1, params, null);
    Map<String, INDArray> other = zerosLike(params);
    other.put("renamed", other.remove("big"));
    assertThatThrownBy(() -> h.fetch(0, other, null))
        .hasMessageContaining("worker 0 parameters: unexpected array big");
  }

  @Test
  void anUnreachableDriverNamesTheAddressAndTheWayOut() throws Exception {
    Map<String, INDArray> params = arrays(1, DataType.FLOAT);
    TcpExchange.TcpHandle h = (TcpExchange.TcpHandle) exchange.publish(1, params, null);
    // a port held bound but not listening: connections to it are refused, and no other process can
    // take it in the meantime (a closed exchange's port could be reused by a listener that never
    // answers, and the fetch would wait out the read timeout)
    try (java.net.Socket reserved = new java.net.Socket()) {
      reserved.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      int port = reserved.getLocalPort();
      var unreachable =
          new TcpExchange.TcpHandle("127.0.0.1", port, h.token(), h.round(), h.bytesOut());
      assertThatThrownBy(() -> unreachable.fetch(0, zerosLike(params), null))
          .hasMessageContaining(
              "worker 0 cannot reach the driver's weight exchange at 127.0.0.1:" + port)
          .hasMessageContaining("distributed.transport=spark");
    }
  }

  @Test
  void aPortInUseIsAClearError() {
    assertThatThrownBy(() -> new TcpExchange("127.0.0.1", "127.0.0.1", exchange.port()))
        .hasMessageContaining("cannot listen for workers on 127.0.0.1:" + exchange.port())
        .hasMessageContaining("distributed.transport-port");
  }
}
