package dev.forja.tokenizer;

/**
 * GPT-2's reversible mapping between bytes and printable Unicode characters, which lets a
 * vocabulary of byte strings be written as JSON text ({@code vocab.json}, {@code tokenizer.json}):
 * printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in byte order
 * ({@code Ġ} is the space byte).
 */
public final class ByteUnicode {
  private static final char[] BYTE_TO_CHAR = new char[256];
  private static final int[] CHAR_TO_BYTE = new int[512];

  /** The 256 bytes in GPT-2's order: printable ranges first, then the rest ascending. */
  private static final int[] ORDER = new int[256];

  static {
    java.util.Arrays.fill(CHAR_TO_BYTE, -1);
    boolean[] printable = new boolean[256];
    int n = 0;
    for (int b = 0; b < 256; b++) {
      printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      if (printable[b]) {
        BYTE_TO_CHAR[b] = (char) b;
        ORDER[n++] = b;
      }
    }
    int extra = 0;
    for (int b = 0; b < 256; b++) {
      if (!printable[b]) {
        BYTE_TO_CHAR[b] = (char) (256 + extra++);
        ORDER[n++] = b;
      }
    }
    for (int b = 0; b < 256; b++) {
      CHAR_TO_BYTE[BYTE_TO_CHAR[b]] = b;
    }
  }

  private ByteUnicode() {}

  /** The byte at position {@code i} of GPT-2's byte order (its token id in GPT-2's vocabulary). */
  public static int byteAt(int i) {
    return ORDER[i];
  }

  /** A byte string as its printable form. */
  public static String encode(byte[] bytes) {
    char[] out = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
    }
    return new String(out);
  }

  /**
   * The bytes a printable form stands for, or {@code null} if it holds a character outside the
   * mapping.
   */
  public static byte[] decode(String s) {
    byte[] out = new byte[s.length()];
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
      if (b < 0) {
        return null;
      }
      out[i] = (byte) b;
    }
    return out;
  }
}
