package dev.forja.training.distributed;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkConf;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The driver serves each round's starting weights and receives the workers' trained weights on a
 * TCP port of its own, streamed straight from and into ND4J's memory: no broadcast blocks, no
 * serialized task results, which Spark fetches in pieces, stores and deserializes again. Round
 * stages stay ordinary Spark stages; only the bytes take this path (docs/benchmarks.md compares the
 * two transports).
 *
 * <p>Protocol, one connection per request: the client sends a magic number, version, the run's
 * random token (which the tasks carry in their closure; other clients are refused), the operation,
 * round, worker and attempt; the server answers OK or REFUSED with the reason. Then, {@code FETCH}:
 * the server sends whether moments follow, the parameters and the moments ({@link Tensors#write});
 * {@code DELIVER}: the client sends the same and the server acknowledges once it holds them, so a
 * task that succeeded has delivered. A request for any round but the current one is refused (a
 * straggler from a finished round). A worker that dies mid-transfer leaves nothing: its retry asks
 * again.
 */
public final class TcpExchange implements Exchange {
  private static final int MAGIC = 0x464f524a; // "FORJ"
  private static final byte VERSION = 1;
  private static final byte FETCH = 1;
  private static final byte DELIVER = 2;
  private static final byte OK = 0;
  private static final byte REFUSED = 1;
  private static final int CONNECT_TIMEOUT_MS = 30_000;
  private static final int READ_TIMEOUT_MS = 600_000;
  private static final int BUFFER = 1 << 16;

  private record Published(
      long round, Map<String, INDArray> parameters, Map<String, INDArray> moments) {}

  private record Key(long round, int worker, int attempt) {}

  private final ServerSocket server;
  private final String host;
  private final byte[] token = new byte[16];
  private final ExecutorService connections;
  private final Map<Key, Returned> delivered = new ConcurrentHashMap<>();
  private volatile Published current;
  private volatile String lastError;

  /**
   * Listens on {@code bindAddress:port} (port 0: any free one) and tells workers to connect to
   * {@code host}.
   */
  public TcpExchange(String bindAddress, String host, int port) {
    this.host = host;
    new SecureRandom().nextBytes(token);
    try {
      server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress(InetAddress.getByName(bindAddress), port), 64);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen for workers on "
              + bindAddress
              + ":"
              + port
              + " (distributed.transport-port; 0 picks a free port)",
          e);
    }
    AtomicInteger n = new AtomicInteger();
    connections =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "forja-exchange-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    Thread accept = new Thread(this::acceptLoop, "forja-exchange-accept");
    accept.setDaemon(true);
    accept.start();
  }

  /** An exchange on the driver's own address, as Spark's settings give it to executors. */
  public static TcpExchange forDriver(SparkConf conf, int port) {
    String host = conf.get("spark.driver.host", "localhost");
    return new TcpExchange(conf.get("spark.driver.bindAddress", host), host, port);
  }

  public int port() {
    return server.getLocalPort();
  }

  @Override
  public Handle publish(
      long round, Map<String, INDArray> parameters, Map<String, INDArray> moments) {
    delivered.clear();
    lastError = null;
    current = new Published(round, parameters, moments);
    long bytes = Tensors.bytes(parameters) + (moments == null ? 0 : Tensors.bytes(moments));
    return new TcpHandle(host, port(), token.clone(), round, bytes);
  }

  @Override
  public List<Returned> collect(Handle handle, List<WorkerResult> results) {
    long round = ((TcpHandle) handle).round();
    current = null; // the driver is about to change the arrays: serve nothing more of this round
    List<Returned> out = new ArrayList<>();
    for (WorkerResult r : results) {
      Key key = new Key(round, r.stats().worker(), r.stats().attempt());
      Returned got = delivered.remove(key);
      if (got == null) {
        throw new IllegalStateException(
            "worker "
                + key.worker()
                + " (attempt "
                + key.attempt()
                + ") finished round "
                + round
                + " but its weights never reached the driver"
                + (lastError == null ? "" : "; last transfer error: " + lastError));
      }
      out.add(got);
    }
    delivered.clear();
    return out;
  }

  @Override
  public void close() {
    current = null;
    delivered.clear();
    try {
      server.close();
    } catch (IOException e) {
      // closing a listening socket: nothing to do about a failure
    }
    connections.shutdownNow();
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        connections.execute(() -> serve(s));
      } catch (SocketException closed) {
        return;
      } catch (IOException e) {
        lastError = e.toString();
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSoTimeout(READ_TIMEOUT_MS);
      socket.setTcpNoDelay(true);
      DataInputStream in =
          new DataInputStream(new BufferedInputStream(socket.getInputStream(), BUFFER));
      DataOutputStream out =
          new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), BUFFER));
      if (in.readInt() != MAGIC || in.readByte() != VERSION) {
        refuse(out, "not a Forja " + VERSION + " weight-exchange request");
        return;
      }
      byte[] presented = in.readNBytes(token.length);
      byte op = in.readByte();
      long round = in.readLong();
      int worker = in.readInt();
      int attempt = in.readInt();
      if (!MessageDigest.isEqual(presented, token)) {
        refuse(out, "wrong token: the task belongs to another run");
        return;
      }
      if (op != FETCH && op != DELIVER) {
        refuse(out, "unknown operation " + op);
        return;
      }
      Published p = current;
      if (p == null || p.round() != round) {
        refuse(
            out,
            "round "
                + round
                + " is not being served"
                + (p == null ? "" : " (round " + p.round() + " is)"));
        return;
      }
      out.writeByte(OK); // go ahead
      if (op == FETCH) {
        out.writeBoolean(p.moments() != null);
        Tensors.write(p.parameters(), out);
        if (p.moments() != null) {
          Tensors.write(p.moments(), out);
        }
        out.flush();
      } else if (op == DELIVER) {
        out.flush();
        boolean hasMoments = in.readBoolean();
        Tensors params = Tensors.read(in);
        Tensors moments = hasMoments ? Tensors.read(in) : null;
        if (hasMoments != (p.moments() != null)) {
          refuse(out, "moments " + (hasMoments ? "sent but not averaged" : "averaged but missing"));
          return;
        }
        delivered.put(new Key(round, worker, attempt), new Returned(params, moments));
        out.writeByte(OK);
        out.flush();
      }
    } catch (IOException | RuntimeException e) {
      // a worker that died or was cut off mid-transfer; Spark retries its task
      lastError = e.toString();
    }
  }

  private static void refuse(DataOutputStream out, String why) throws IOException {
    out.writeByte(REFUSED);
    out.writeUTF(why);
    out.flush();
  }

  /** What a task needs to reach the driver's exchange for one round. */
  record TcpHandle(String host, int port, byte[] token, long round, long bytesOut)
      implements Handle {

    @Override
    public void fetch(int worker, Map<String, INDArray> parameters, Map<String, INDArray> moments) {
      try (Socket s = connect(worker)) {
        DataInputStream in = request(s, FETCH, worker, 0);
        boolean hasMoments = in.readBoolean();
        if (hasMoments != (moments != null)) {
          throw new IllegalStateException(
              "worker "
                  + worker
                  + ": the driver "
                  + (hasMoments ? "sent" : "did not send")
                  + " optimizer moments");
        }
        Tensors.readInto(in, parameters, "worker " + worker + " parameters");
        if (hasMoments) {
          Tensors.readInto(in, moments, "worker " + worker + " moments");
        }
      } catch (IOException e) {
        throw failed(worker, "fetching", e);
      }
    }

    @Override
    public Delivered deliver(
        int worker, int attempt, Map<String, INDArray> parameters, Map<String, INDArray> moments) {
      try (Socket s = connect(worker)) {
        DataInputStream in = request(s, DELIVER, worker, attempt);
        DataOutputStream out =
            new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), BUFFER));
        out.writeBoolean(moments != null);
        Tensors.write(parameters, out);
        if (moments != null) {
          Tensors.write(moments, out);
        }
        out.flush();
        status(in, worker); // held by the driver
      } catch (IOException e) {
        throw failed(worker, "delivering", e);
      }
      long bytes = Tensors.bytes(parameters) + (moments == null ? 0 : Tensors.bytes(moments));
      return new Delivered(null, null, bytes);
    }

    private Socket connect(int worker) {
      Socket s = new Socket();
      try {
        s.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
        if (s.getLocalPort() == s.getPort() && s.getLocalAddress().equals(s.getInetAddress())) {
          // TCP's simultaneous open: with nothing listening on a local port, a client given that
          // same port as its own ephemeral one connects to itself, and would wait on its own echo
          throw new java.net.ConnectException("connected to itself: nothing listens on " + port);
        }
        s.setSoTimeout(READ_TIMEOUT_MS);
        s.setTcpNoDelay(true);
        return s;
      } catch (IOException e) {
        try {
          s.close();
        } catch (IOException ignored) {
          // the connection never opened
        }
        throw new IllegalStateException(
            "worker "
                + worker
                + " cannot reach the driver's weight exchange at "
                + host
                + ":"
                + port
                + " ("
                + e
                + "): let executors connect to that port (distributed.transport-port fixes"
                + " it) or set distributed.transport=spark",
            e);
      }
    }

    private DataInputStream request(Socket s, byte op, int worker, int attempt) throws IOException {
      DataOutputStream out =
          new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), BUFFER));
      header(out, op, worker, attempt);
      out.flush();
      DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), BUFFER));
      status(in, worker);
      return in;
    }

    private void header(DataOutputStream out, byte op, int worker, int attempt) throws IOException {
      out.writeInt(MAGIC);
      out.writeByte(VERSION);
      out.write(token);
      out.writeByte(op);
      out.writeLong(round);
      out.writeInt(worker);
      out.writeInt(attempt);
    }

    private void status(DataInputStream in, int worker) throws IOException {
      byte status = in.readByte();
      if (status != OK) {
        throw new IllegalStateException(
            "the driver refused worker " + worker + " in round " + round + ": " + in.readUTF());
      }
    }

    private UncheckedIOException failed(int worker, String what, IOException e) {
      return new UncheckedIOException(
          "worker " + worker + ": " + what + " round " + round + "'s weights failed", e);
    }
  }
}
