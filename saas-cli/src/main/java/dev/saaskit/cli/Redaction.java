package dev.saaskit.cli;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The one place that keeps secrets out of what the CLI prints. Every message, warning, log line and stack trace
 * that can hold a JDBC URL or a driver's message goes through it:
 *
 * <ul>
 *   <li>{@link #url}: the user-info of a URL ({@code //user:password@host}) becomes {@code //***@host}, and the
 *       value of every parameter whose name ends in {@code password}, {@code passwd}, {@code pwd},
 *       {@code passphrase} or {@code secret} (any case, percent-encoded or not) becomes {@code ***};
 *   <li>{@link #text}: the same for every URL and every such parameter inside free text, each known secret
 *       value (at least {@value #MIN_LITERAL} characters) replaced wherever it appears, and anything shaped like a
 *       Stripe secret key or webhook secret ({@code sk_live_...}, {@code sk_test_...}, {@code rk_...},
 *       {@code whsec_...}) masked after its prefix, even when no one said it was a secret (a key pasted as a stray
 *       argument, say);
 *   <li>{@link #throwable}: a copy of an exception chain whose messages went through {@link #text}, for stack
 *       traces.
 * </ul>
 *
 * <p>Redaction errs on the side of hiding: an unencoded {@code @} in a database name can hide the host in front of
 * it. A password of fewer than {@value #MIN_LITERAL} characters is masked where it stands in a URL but not searched
 * for in free text, where masking every occurrence would garble the message and point at the password.
 */
final class Redaction {
  static final String MASK = "***";
  static final int MIN_LITERAL = 4;

  /** A URL in free text: a scheme (or two, as in jdbc:postgresql:) and "//", up to white space or a quote. */
  private static final Pattern URL_IN_TEXT =
      Pattern.compile("(?i)[a-z][a-z0-9+.-]*:(?:[a-z][a-z0-9+.-]*:)?//[^\\s\"'<>]*");
  /** A parameter of a URL: separator, name, '=', value up to the next separator. */
  private static final Pattern PARAM_IN_URL = Pattern.compile("([?&;])([^=&;?]*)=([^&;]*)");
  /**
   * A name=value pair in free text, in a URL or not ("host=db password=..."): the name not preceded by a name
   * character, the value up to a separator, white space or a quote.
   */
  private static final Pattern PARAM_IN_TEXT =
      Pattern.compile("(?<![A-Za-z0-9_.%-])()([A-Za-z0-9_.%-]+)=([^&;\\s\"']*)");
  /** A value masked before, perhaps followed by the punctuation of the sentence it stands in ("URL: reason"). */
  private static final Pattern ALREADY_MASKED = Pattern.compile(Pattern.quote(MASK) + "[.,:)\\]]*");
  /** host[:port][,host[:port]]... (with [IPv6] literals): what may stand between "//" and the first '/'. */
  private static final Pattern HOSTS =
      Pattern.compile("(?:\\[[^\\]]*\\]|[^:,/@\\[\\]]*)(?::\\d*)?(?:,(?:\\[[^\\]]*\\]|[^:,/@\\[\\]]*)(?::\\d*)?)*");
  /** A Stripe secret or restricted key, or a webhook signing secret: the prefix kept, the rest masked. */
  private static final Pattern STRIPE_SECRET =
      Pattern.compile("(?<![0-9A-Za-z_])((?:sk|rk)_(?:live|test)_|whsec_)[0-9A-Za-z_]+");
  private static final List<String> SECRET_NAME_ENDINGS =
      List.of("password", "passwd", "pwd", "passphrase", "secret");

  private Redaction() {}

  /** {@code url} with its user-info and the values of its secret parameters replaced by {@code ***}. */
  static String url(String url) {
    String redacted = url;
    int authority = url.indexOf("//");
    if (authority >= 0) {
      int at = userInfoEnd(url.substring(authority + 2));
      if (at >= 0) {
        redacted = url.substring(0, authority + 2) + MASK + url.substring(authority + 2 + at);
      }
    }
    return maskParams(PARAM_IN_URL, redacted);
  }

  /** Whether {@code url} has a user-info part ({@code //user@host} or {@code //user:password@host}). */
  static boolean hasUserInfo(String url) {
    int authority = url.indexOf("//");
    return authority >= 0 && userInfoEnd(url.substring(authority + 2)) >= 0;
  }

  /**
   * The secret values {@code url} holds, as written and percent-decoded: the password of its user-info and the
   * values of its secret parameters (empty ones left out). Empty when the URL holds no password.
   */
  static List<String> secretsIn(String url) {
    List<String> secrets = new ArrayList<>();
    int authority = url.indexOf("//");
    if (authority >= 0) {
      String rest = url.substring(authority + 2);
      int at = userInfoEnd(rest);
      int colon = at < 0 ? -1 : rest.indexOf(':');
      if (colon >= 0 && colon < at) {
        addSecret(secrets, rest.substring(colon + 1, at));
      }
    }
    Matcher m = PARAM_IN_URL.matcher(url);
    while (m.find()) {
      if (isSecretName(m.group(2))) {
        addSecret(secrets, m.group(3));
      }
    }
    return secrets;
  }

  /**
   * {@code text} with every value in {@code secrets} (of at least {@value #MIN_LITERAL} characters) replaced by
   * {@code ***}, then every URL in it passed through {@link #url} and every secret parameter masked.
   */
  static String text(@Nullable String text, Collection<String> secrets) {
    if (text == null) {
      return "";
    }
    String redacted = text;
    List<String> longestFirst = new ArrayList<>(secrets);
    longestFirst.sort(Comparator.comparingInt(String::length).reversed());
    for (String secret : longestFirst) {
      if (secret.length() >= MIN_LITERAL) {
        redacted = redacted.replace(secret, MASK);
      }
    }
    redacted = STRIPE_SECRET.matcher(redacted).replaceAll(m -> Matcher.quoteReplacement(m.group(1) + MASK));
    redacted = URL_IN_TEXT.matcher(redacted).replaceAll(m -> Matcher.quoteReplacement(url(m.group())));
    return maskParams(PARAM_IN_TEXT, redacted);
  }

  /** {@link #text} with no known secrets: URLs and secret parameters only. */
  static String text(@Nullable String text) {
    return text(text, List.of());
  }

  /**
   * A copy of {@code e} and its causes (and suppressed exceptions) with every message passed through
   * {@link #text}, the same stack traces, and {@code toString()} naming the original classes: what a stack trace
   * may print, where the original would show a driver's message as it was.
   */
  static Throwable throwable(Throwable e, Collection<String> secrets) {
    return copy(e, secrets, new IdentityHashMap<>());
  }

  private static Throwable copy(Throwable e, Collection<String> secrets, Map<Throwable, Throwable> done) {
    Throwable seen = done.get(e);
    if (seen != null) {
      return seen;
    }
    String message = e.getMessage();
    Redacted copy = new Redacted(e.getClass().getName(), message == null ? null : text(message, secrets));
    done.put(e, copy);
    copy.setStackTrace(e.getStackTrace());
    Throwable cause = e.getCause();
    if (cause != null) {
      copy.initCause(copy(cause, secrets, done));
    }
    for (Throwable suppressed : e.getSuppressed()) {
      copy.addSuppressed(copy(suppressed, secrets, done));
    }
    return copy;
  }

  /** An exception's redacted stand-in: prints as the original class with the redacted message. */
  // toString, not getMessage, on purpose: stack traces print toString(), and it must name the original class
  @SuppressWarnings("OverrideThrowableToString")
  private static final class Redacted extends Exception {
    private static final long serialVersionUID = 1L;
    private final String type;

    Redacted(String type, @Nullable String message) {
      super(message);
      this.type = type;
    }

    @Override
    public String toString() {
      String message = getMessage();
      return message == null ? type : type + ": " + message;
    }
  }

  /**
   * Where the user-info of {@code rest} (a URL after "//") ends, the index of its '@', or -1 when it has none.
   * The authority ends at the first '?', so an '@' inside a parameter is not taken for one; it is the last '@'
   * before that, so an unencoded '@' or '/' inside the password does not end it early. An '@' after a '/' that
   * follows a plain host list is in the database name (pgjdbc reads {@code //h/db@x} so).
   */
  private static int userInfoEnd(String rest) {
    int question = rest.indexOf('?');
    String head = question < 0 ? rest : rest.substring(0, question);
    int at = head.lastIndexOf('@');
    if (at >= 0) {
      int slash = head.indexOf('/');
      boolean inDatabaseName = slash >= 0 && slash < at && head.indexOf('/', at) < 0
          && HOSTS.matcher(head.substring(0, slash)).matches();
      if (!inDatabaseName) {
        return at;
      }
    }
    if (question >= 0) {
      // an unencoded '?' inside the password: an '@' after it and before any '=' belongs to no parameter
      int equals = rest.indexOf('=', question);
      int atAfter = rest.lastIndexOf('@', equals < 0 ? rest.length() : equals);
      if (atAfter > question) {
        return atAfter;
      }
    }
    return -1;
  }

  private static String maskParams(Pattern param, String s) {
    return param.matcher(s).replaceAll(m -> {
      String value = m.group(3);
      boolean mask = isSecretName(m.group(2)) && !value.isEmpty() && !ALREADY_MASKED.matcher(value).matches();
      return Matcher.quoteReplacement(mask ? m.group(1) + m.group(2) + "=" + MASK : m.group());
    });
  }

  private static boolean isSecretName(String name) {
    String decoded = decode(name).toLowerCase(Locale.ROOT).strip();
    for (String ending : SECRET_NAME_ENDINGS) {
      if (decoded.endsWith(ending)) {
        return true;
      }
    }
    return false;
  }

  private static void addSecret(List<String> secrets, String value) {
    if (!value.isEmpty()) {
      secrets.add(value);
      String decoded = decode(value);
      if (!decoded.equals(value)) {
        secrets.add(decoded);
      }
    }
  }

  /** Percent-decoded as pgjdbc decodes parameters ('+' is a space); unchanged when not validly encoded. */
  private static String decode(String s) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return s;
    }
  }
}
