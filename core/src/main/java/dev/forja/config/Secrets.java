package dev.forja.config;

import java.util.Locale;
import java.util.regex.Pattern;

/** Recognises keys whose values are credentials, so nothing prints them. */
public final class Secrets {
  private static final Pattern SECRET_KEY =
      Pattern.compile("(?i).*(secret|password|token|credential|access[.-]?key|session[.-]?key).*");
  public static final String MASK = "********";

  private Secrets() {}

  public static boolean looksSecret(String key) {
    return SECRET_KEY.matcher(key.toLowerCase(Locale.ROOT)).matches()
        && !key.endsWith("credentials-provider")
        && !key.endsWith("credentials.provider");
  }

  public static String mask(String key, String value) {
    return looksSecret(key) && value != null && !value.isEmpty() ? MASK : value;
  }
}
