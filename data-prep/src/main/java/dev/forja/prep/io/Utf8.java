package dev.forja.prep.io;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Decodes UTF-8, repairing invalid sequences with U+FFFD and counting the repairs. */
final class Utf8 {
  private final CharsetDecoder strict =
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT);
  int lastRepairs;

  String decode(byte[] bytes, int off, int len) {
    lastRepairs = 0;
    try {
      CharBuffer cb = strict.reset().decode(ByteBuffer.wrap(bytes, off, len));
      return cb.toString();
    } catch (CharacterCodingException e) {
      String s = new String(bytes, off, len, StandardCharsets.UTF_8);
      // U+FFFD that were in the input as such (EF BF BD) are not repairs.
      int literal = 0;
      for (int i = off; i + 2 < off + len; i++) {
        if (bytes[i] == (byte) 0xEF && bytes[i + 1] == (byte) 0xBF && bytes[i + 2] == (byte) 0xBD) {
          literal++;
        }
      }
      lastRepairs = Math.max(1, countReplacement(s) - literal);
      return s;
    }
  }

  private static int countReplacement(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) == '\uFFFD') {
        n++;
      }
    }
    return n;
  }
}
