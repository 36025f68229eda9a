package dev.forja.shard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenShardsTest {
  static final Storage STORAGE = new Storage(StorageConfig.defaults());

  /** Writes shards whose token at stream position p is p % vocab, so reads can be checked. */
  static ShardManifest writeCounting(URI dir, int vocab, long... shardTokens) throws Exception {
    List<ShardManifest.Shard> shards = new ArrayList<>();
    long pos = 0;
    for (int i = 0; i < shardTokens.length; i++) {
      String name = ShardFormat.fileName(ShardFormat.TRAIN, i);
      ShardWriter w = new ShardWriter(STORAGE.create(Storage.resolve(dir, name), true), vocab, 0);
      int[] ids = new int[(int) shardTokens[i]];
      for (int k = 0; k < ids.length; k++) {
        ids[k] = (int) (pos++ % vocab);
      }
      w.writeDocument(ids, ids.length);
      w.close();
      shards.add(new ShardManifest.Shard(name, w.tokens(), w.documents(), w.bytes(), w.sha256()));
    }
    long total = shards.stream().mapToLong(ShardManifest.Shard::tokens).sum();
    ShardManifest m =
        new ShardManifest(
            ShardManifest.FORMAT,
            ShardFormat.VERSION,
            "a".repeat(64),
            vocab,
            0,
            ShardFormat.dtype(ShardFormat.bytesPerToken(vocab)),
            0.0,
            Map.of(ShardFormat.TRAIN, new ShardManifest.Split(total, shards.size(), shards)),
            Map.of("prep-run-id", "test"),
            "now");
    m.commit(STORAGE, dir);
    return m;
  }

  @Test
  void readsAcrossShardBoundariesInUint16AndUint32(@TempDir Path tmp) throws Exception {
    for (int vocab : new int[] {50_257, 100_000}) {
      URI dir = tmp.resolve("v" + vocab).toUri();
      writeCounting(dir, vocab, 1000, 7, 2500);
      try (TokenShards s = TokenShards.open(STORAGE, dir, TokenShards.Verify.CHECKSUMS)) {
        assertThat(s.manifest().dtype()).isEqualTo(vocab <= 65536 ? "uint16" : "uint32");
        var r = s.split(ShardFormat.TRAIN);
        int[] dst = new int[20];
        r.read(995, dst, 20); // spans all three shards
        for (int i = 0; i < 20; i++) {
          assertThat(dst[i]).isEqualTo((995 + i) % vocab);
        }
      }
    }
  }

  @Test
  void workersGetDisjointWindowsAndEveryEpochIsAPermutation(@TempDir Path tmp) throws Exception {
    URI dir = tmp.toUri();
    writeCounting(dir, 50_000, 4000, 4001);
    try (TokenShards s = TokenShards.open(STORAGE, dir, TokenShards.Verify.SIZES)) {
      var r = s.split(ShardFormat.TRAIN);
      int len = 16;
      long windows = (r.tokens() - 1) / len;
      Set<Long> seen = new HashSet<>();
      for (int w = 0; w < 3; w++) {
        SequenceSampler sampler = new SequenceSampler(r, len, 42, w, 3);
        for (long i = 0; i < sampler.sequencesPerEpoch(); i++) {
          int[] seq = sampler.next();
          assertThat(seq).hasSize(len + 1);
          long start = seq[0];
          assertThat(start % len).isZero(); // window starts are multiples of the length
          assertThat(seq[len]).isEqualTo((int) (start + len) % 50_000);
          assertThat(seen.add(start)).as("window at %d seen twice", start).isTrue();
        }
      }
      assertThat(seen).hasSize((int) (windows / 3 * 3));
      // the permutation is a bijection for awkward sizes
      for (long n : new long[] {1, 2, 3, 17, 1000, 4097}) {
        Set<Long> out = new HashSet<>();
        for (long x = 0; x < n; x++) {
          out.add(SequenceSampler.permute(x, n, 99));
        }
        assertThat(out).hasSize((int) n).allMatch(v -> v >= 0 && v < n);
      }
    }
  }

  @Test
  void resumingFromACursorContinuesIdentically(@TempDir Path tmp) throws Exception {
    URI dir = tmp.toUri();
    writeCounting(dir, 1000, 3000, 3000);
    try (TokenShards s = TokenShards.open(STORAGE, dir, TokenShards.Verify.SIZES)) {
      var r = s.split(ShardFormat.TRAIN);
      SequenceSampler straight = new SequenceSampler(r, 32, 7, 1, 2);
      List<int[]> expected = new ArrayList<>();
      SequenceSampler.Cursor at = null;
      for (int i = 0; i < 400; i++) { // more than one epoch (93 per worker)
        if (i == 250) {
          at = straight.cursor();
        }
        expected.add(straight.next());
      }
      SequenceSampler resumed = new SequenceSampler(r, 32, 7, 1, 2);
      resumed.seek(at);
      assertThat(at.epoch()).isEqualTo(2);
      for (int i = 250; i < 400; i++) {
        assertThat(resumed.next()).containsExactly(expected.get(i));
      }
      // a different seed or epoch gives another order
      SequenceSampler other = new SequenceSampler(r, 32, 8, 1, 2);
      assertThat(other.next()).isNotEqualTo(expected.get(0));
      assertThat(expected.get(93)).isNotEqualTo(expected.get(0));
    }
  }

  @Test
  void truncatedShardIsNamed(@TempDir Path tmp) throws Exception {
    writeCounting(tmp.toUri(), 1000, 500, 500);
    Path f = tmp.resolve("train-00001.bin");
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(raf.length() - 10);
    }
    assertThatThrownBy(() -> TokenShards.open(STORAGE, tmp.toUri(), TokenShards.Verify.SIZES))
        .isInstanceOf(ShardException.class)
        .hasMessageContaining("train-00001.bin is truncated or corrupt");
  }

  @Test
  void corruptedShardFailsItsChecksum(@TempDir Path tmp) throws Exception {
    writeCounting(tmp.toUri(), 1000, 500, 500);
    Path f = tmp.resolve("train-00000.bin");
    byte[] b = Files.readAllBytes(f);
    b[100] ^= 1;
    Files.write(f, b);
    assertThatThrownBy(() -> TokenShards.open(STORAGE, tmp.toUri(), TokenShards.Verify.CHECKSUMS))
        .isInstanceOf(ShardException.class)
        .hasMessageContaining("train-00000.bin fails its checksum");
  }

  @Test
  void shardsOfAnotherTokenizerAreRefused(@TempDir Path tmp) throws Exception {
    writeCounting(tmp.toUri(), 1000, 500);
    try (TokenShards s = TokenShards.open(STORAGE, tmp.toUri(), TokenShards.Verify.SIZES)) {
      assertThatThrownBy(() -> s.requireTokenizer("b".repeat(64), "/tmp/tok"))
          .isInstanceOf(ShardException.class)
          .hasMessageContaining("were made with tokenizer aaaaaaaaaaaa, not with /tmp/tok");
    }
  }

  @Test
  void uncommittedDirectoryIsNotADataset(@TempDir Path tmp) throws Exception {
    writeCounting(tmp.toUri(), 1000, 500);
    Files.delete(tmp.resolve(ShardFormat.MANIFEST));
    assertThatThrownBy(() -> TokenShards.open(STORAGE, tmp.toUri(), TokenShards.Verify.SIZES))
        .hasMessageContaining("not a committed shard directory");
  }

  @Test
  void tooFewSequencesForTheWorkersIsAClearError(@TempDir Path tmp) throws Exception {
    writeCounting(tmp.toUri(), 1000, 40);
    try (TokenShards s = TokenShards.open(STORAGE, tmp.toUri(), TokenShards.Verify.SIZES)) {
      assertThatThrownBy(() -> new SequenceSampler(s.split("train"), 16, 1, 0, 4))
          .hasMessageContaining("fewer than the 4 worker(s)");
      assertThatThrownBy(() -> s.split("validation")).hasMessageContaining("no split 'validation'");
    }
  }

  @Test
  void rowsCarryTheirFlagsAndAreSampledWhole(@TempDir Path tmp) throws Exception {
    URI dir = tmp.toUri();
    int row = 8;
    int rows = 10;
    String name = ShardFormat.fileName(ShardFormat.TRAIN, 0);
    ShardWriter w =
        new ShardWriter(STORAGE.create(Storage.resolve(dir, name), true), 70_000, 1, true, row);
    int[] ids = new int[row];
    byte[] flags = new byte[row];
    for (int r = 0; r < rows; r++) {
      for (int k = 0; k < row; k++) {
        ids[k] = 65_536 + r * row + k; // needs uint32
        flags[k] = (byte) ((k == 0 || k == 4 ? ShardFormat.START : 0) | (k % 4 == 3 ? 1 : 0));
      }
      w.writeRecords(ids, flags, row, 2);
    }
    w.close();
    assertThat(w.bytes()).isEqualTo(ShardFormat.HEADER_BYTES + rows * row * 5L);
    List<ShardManifest.Shard> shards =
        List.of(new ShardManifest.Shard(name, w.tokens(), w.documents(), w.bytes(), w.sha256()));
    new ShardManifest(
            ShardManifest.FORMAT,
            ShardFormat.VERSION,
            "a".repeat(64),
            70_000,
            1,
            "uint32",
            0.0,
            Map.of(ShardFormat.TRAIN, new ShardManifest.Split(rows * row, 2L * rows, shards)),
            Map.of(),
            "now",
            row,
            true)
        .commit(STORAGE, dir);
    try (TokenShards s = TokenShards.open(STORAGE, dir, TokenShards.Verify.CHECKSUMS)) {
      assertThat(s.manifest().rows()).isEqualTo(row);
      assertThatThrownBy(() -> new SequenceSampler(s.split("train"), 16, 1, 0, 1))
          .hasMessageContaining(
              "rows of 8 tokens, and the sequence length is 16: set train.seq-len=8");
      SequenceSampler sampler = new SequenceSampler(s.split("train"), row, 3, 0, 1);
      assertThat(sampler.rows()).isTrue();
      assertThat(sampler.sequencesPerEpoch()).isEqualTo(rows);
      Set<Integer> seen = new HashSet<>();
      int[] dst = new int[row + 1];
      byte[] got = new byte[row];
      for (int i = 0; i < rows; i++) {
        sampler.next(dst, got);
        int r = (dst[0] - 65_536) / row;
        assertThat(dst[0] - 65_536).isEqualTo(r * row); // starts at a row boundary
        for (int k = 0; k < row; k++) {
          assertThat(dst[k]).isEqualTo(65_536 + r * row + k);
          assertThat(got[k]).isEqualTo(flags[k]);
        }
        seen.add(r);
      }
      assertThat(seen).hasSize(rows);
    }
  }

  @Test
  void versionOneShardsAreStillRead(@TempDir Path tmp) throws Exception {
    URI dir = tmp.toUri();
    writeCounting(dir, 1000, 300);
    // what a version 1 writer made: the same bytes but for the version field, in file and manifest
    Path f = tmp.resolve(ShardFormat.fileName(ShardFormat.TRAIN, 0));
    byte[] b = Files.readAllBytes(f);
    b[8] = 1;
    Files.write(f, b);
    Path m = tmp.resolve(ShardFormat.MANIFEST);
    Files.writeString(m, Files.readString(m).replace("\"version\" : 2", "\"version\" : 1"));
    try (TokenShards s = TokenShards.open(STORAGE, dir, TokenShards.Verify.SIZES)) {
      assertThat(s.manifest().version()).isEqualTo(1);
      assertThat(s.manifest().hasFlags()).isFalse();
      int[] dst = new int[5];
      byte[] flags = new byte[5];
      s.split("train").read(100, dst, flags, 5);
      assertThat(dst).containsExactly(100, 101, 102, 103, 104);
      assertThat(flags).containsOnly(ShardFormat.LOSS);
    }
    Files.writeString(m, Files.readString(m).replace("\"version\" : 1", "\"version\" : 3"));
    assertThatThrownBy(() -> TokenShards.open(STORAGE, dir, TokenShards.Verify.SIZES))
        .hasMessageContaining("shard format version 3; this Forja reads versions 1 to 2: upgrade");
  }
}
