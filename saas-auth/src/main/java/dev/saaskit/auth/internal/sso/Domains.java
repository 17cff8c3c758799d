package dev.saaskit.auth.internal.sso;

import java.net.IDN;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Email-domain normalization: lower case, IDN to its ASCII ({@code xn--}) form, syntax checked. Not API. */
public final class Domains {
  /** Well-known public mail domains that no tenant may claim (the default refusal list). */
  public static final Set<String> PUBLIC_MAIL = Set.of("gmail.com", "googlemail.com", "outlook.com", "hotmail.com",
      "live.com", "msn.com", "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
      "protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "yandex.ru", "yandex.com", "mail.ru",
      "qq.com", "163.com", "126.com", "zoho.com", "fastmail.com", "hey.com", "tutanota.com", "mail.com");

  private static final Pattern LABEL = Pattern.compile("[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?");

  private Domains() {}

  /** The normalized domain, or empty when it is not a valid multi-label domain name. */
  public static Optional<String> normalize(String domain) {
    String d = domain.strip();
    if (d.endsWith(".")) {
      d = d.substring(0, d.length() - 1);
    }
    if (d.isEmpty() || d.length() > 253) {
      return Optional.empty();
    }
    String ascii;
    try {
      ascii = IDN.toASCII(d, IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
    String[] labels = ascii.split("\\.", -1);
    if (labels.length < 2 || ascii.length() > 253) {
      return Optional.empty();
    }
    for (String label : labels) {
      if (!LABEL.matcher(label).matches()) {
        return Optional.empty();
      }
    }
    if (labels[labels.length - 1].matches("[0-9]+")) {
      return Optional.empty(); // an IP address, not a domain
    }
    return Optional.of(ascii);
  }

  /** The normalized domain of an email address ({@code local@domain}), or empty. */
  public static Optional<String> ofEmail(String email) {
    int at = email.lastIndexOf('@');
    if (at <= 0 || at == email.length() - 1) {
      return Optional.empty();
    }
    return normalize(email.substring(at + 1));
  }
}
