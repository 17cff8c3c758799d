package dev.saaskit.auth.internal.sso;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.BadJWSException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.auth.internal.NumericDates;
import dev.saaskit.auth.internal.SignatureCheck;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Validates an OIDC ID token with the verifier's rules: algorithms pinned (the header never chooses), keys only
 * from the issuer's JWKS (header {@code jwk}/{@code jku}/{@code x5u}/{@code x5c} ignored), {@code iss},
 * {@code aud} = client id, {@code azp}, {@code exp}/{@code iat}/{@code nbf} with skew; {@link #nonceMatches} for
 * the nonce. Not API.
 */
public final class IdTokenValidator {
  /** The most a token's JSON may weigh before it is parsed. */
  public static final int MAX_TOKEN_LENGTH = 16 * 1024;

  private final String issuer;
  private final String clientId;
  private final Set<JWSAlgorithm> algorithms;
  private final DefaultJWTProcessor<SecurityContext> processor;
  private final JWKSource<SecurityContext> keys;
  private final Clock clock;
  private final Duration skew;

  /**
   * A validator for one issuer and client.
   *
   * @param algorithms the algorithms accepted (already intersected with what the issuer advertises)
   * @param keys the issuer's JWKS (from its discovery document)
   */
  public IdTokenValidator(String issuer, String clientId, Set<JWSAlgorithm> algorithms,
      JWKSource<SecurityContext> keys, Clock clock, Duration skew) {
    this.issuer = issuer;
    this.clientId = clientId;
    this.algorithms = Set.copyOf(algorithms);
    this.clock = clock;
    this.skew = skew;
    this.keys = keys;
    this.processor = new DefaultJWTProcessor<>();
    JWSVerificationKeySelector<SecurityContext> selector = new JWSVerificationKeySelector<>(this.algorithms, keys);
    // RFC 7518 3.3 and 3.5, as TokenVerifier: an RSA key below 2048 bits is never used (no key: UNKNOWN_KEY)
    processor.setJWSKeySelector((header, context) -> selector.selectJWSKeys(header, context).stream()
        .filter(k -> !(k instanceof java.security.interfaces.RSAKey rsa)
            || rsa.getModulus().bitLength() >= SignatureCheck.MIN_RSA_BITS)
        .collect(java.util.stream.Collectors.toList()));
    processor.setJWTClaimsSetVerifier((claims, context) -> { }); // checked below, with our clock and skew
  }

  /** The issuer's key source, for tests of how it is built. */
  JWKSource<SecurityContext> keys() {
    return keys;
  }

  /**
   * The claims of a valid ID token.
   *
   * @throws InvalidTokenException with the reason
   */
  public JWTClaimsSet validate(String idToken) {
    if (idToken.length() > MAX_TOKEN_LENGTH) {
      throw new InvalidTokenException(Reason.MALFORMED, "the ID token is longer than " + MAX_TOKEN_LENGTH);
    }
    JWT jwt;
    try {
      jwt = JWTParser.parse(idToken);
    } catch (ParseException e) {
      throw new InvalidTokenException(Reason.MALFORMED, "the ID token is not a JWT", e);
    }
    if (jwt instanceof PlainJWT) {
      throw new InvalidTokenException(Reason.UNSIGNED, "the ID token is unsigned (alg none)");
    }
    if (!(jwt instanceof SignedJWT signed)) {
      throw new InvalidTokenException(Reason.MALFORMED, "the ID token is not a signed JWT");
    }
    JWSAlgorithm alg = signed.getHeader().getAlgorithm();
    if (!algorithms.contains(alg)) {
      // the header is the IdP's text: sanitized, never quoted as is into a message that ends up in logs
      throw new InvalidTokenException(Reason.DISALLOWED_ALGORITHM, "the ID token's algorithm "
          + printable(alg.getName()) + " is not one of " + algorithms + " allowed for " + issuer);
    }
    Set<String> crit = signed.getHeader().getCriticalParams();
    if (crit != null) { // any crit, an empty list too (RFC 7515 4.1.11 forbids sending one)
      throw new InvalidTokenException(Reason.UNSUPPORTED_CRITICAL_HEADER, "the ID token has " + crit.size()
          + " critical header parameter(s), none understood");
    }
    JWTClaimsSet claims;
    try {
      claims = processor.process(signed, null);
    } catch (BadJWSException e) {
      throw new InvalidTokenException(Reason.BAD_SIGNATURE, "the ID token's signature is invalid", e);
    } catch (KeySourceException e) {
      throw new InvalidTokenException(Reason.KEYS_UNAVAILABLE, "the keys of " + issuer + " are unavailable", e);
    } catch (BadJOSEException e) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY, "no key of " + issuer + " matches the ID token", e);
    } catch (JOSEException e) {
      throw new InvalidTokenException(Reason.BAD_SIGNATURE, "the ID token could not be verified", e);
    }
    Map<String, Object> raw = signed.getPayload().toJSONObject();
    if (raw == null) {
      throw new InvalidTokenException(Reason.MALFORMED, "the ID token's payload is not a JSON object");
    }
    checkClaims(claims, raw);
    return claims;
  }

  private void checkClaims(JWTClaimsSet claims, Map<String, Object> raw) {
    if (!issuer.equals(claims.getIssuer())) {
      throw new InvalidTokenException(Reason.UNKNOWN_ISSUER, "the ID token's iss is not " + issuer);
    }
    String subject = claims.getSubject();
    // OIDC Core caps sub at 255 ASCII characters; a control character in it is no identifier a membership can
    // hold (nor one to show in a log), so it is refused here rather than failing the provisioning later
    if (subject == null || subject.isBlank() || subject.length() > 255
        || subject.chars().anyMatch(Character::isISOControl)) {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "the ID token's sub is missing or invalid");
    }
    List<String> audience = claims.getAudience();
    if (!audience.contains(clientId)) {
      throw new InvalidTokenException(Reason.WRONG_AUDIENCE, "the ID token's aud does not hold the client id");
    }
    Object azp = claims.getClaim("azp");
    if (azp != null && !clientId.equals(azp)) {
      throw new InvalidTokenException(Reason.WRONG_AUDIENCE, "the ID token's azp is not the client id");
    }
    if (audience.size() > 1 && azp == null) {
      throw new InvalidTokenException(Reason.WRONG_AUDIENCE, "the ID token has several audiences and no azp");
    }
    Instant now = clock.instant();
    // the times from the JSON itself: JWTClaimsSet's Dates wrap around for values beyond a long of milliseconds
    // (a hugely negative exp became a far-future one, a far-future iat or nbf one in 1969)
    Instant exp = NumericDates.read(raw, "exp");
    if (exp == null) {
      throw new InvalidTokenException(Reason.MISSING_EXPIRY, "the ID token has no exp");
    }
    if (!now.isBefore(exp.plus(skew))) {
      throw new InvalidTokenException(Reason.EXPIRED, "the ID token expired at " + exp);
    }
    Instant iat = NumericDates.read(raw, "iat");
    if (iat == null) {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "the ID token has no iat");
    }
    if (iat.isAfter(now.plus(skew))) {
      throw new InvalidTokenException(Reason.NOT_YET_VALID, "the ID token was issued in the future");
    }
    Instant nbf = NumericDates.read(raw, "nbf");
    if (nbf != null && nbf.isAfter(now.plus(skew))) {
      throw new InvalidTokenException(Reason.NOT_YET_VALID, "the ID token is not valid before " + nbf);
    }
  }

  /** At most 20 characters of a header value, letters, digits and {@code +-_.} only, for a message. */
  private static String printable(String value) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < value.length() && b.length() < 20; i++) {
      char c = value.charAt(i);
      boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+'
          || c == '-' || c == '_' || c == '.';
      b.append(ok ? c : '?');
    }
    return value.length() > 20 ? b + "..." : b.toString();
  }

  /**
   * The ID token's {@code email_verified}: a JSON boolean, or the strings {@code "true"}/{@code "false"} that some
   * IdPs send instead (a string {@code "false"} is not a verified email); {@code null} when absent or anything else.
   */
  public static @Nullable Boolean emailVerified(JWTClaimsSet claims) {
    Object v = claims.getClaim("email_verified");
    if (v instanceof Boolean b) {
      return b;
    }
    if (v instanceof String s) {
      String t = s.strip();
      if (t.equalsIgnoreCase("true")) {
        return Boolean.TRUE;
      }
      if (t.equalsIgnoreCase("false")) {
        return Boolean.FALSE;
      }
    }
    return null;
  }

  /** Whether the claims' {@code nonce} equals {@code expected} (compared in constant time). */
  public static boolean nonceMatches(JWTClaimsSet claims, String expected) {
    Object nonce = claims.getClaim("nonce");
    return nonce instanceof String n && MessageDigest.isEqual(n.getBytes(StandardCharsets.UTF_8),
        expected.getBytes(StandardCharsets.UTF_8));
  }
}
