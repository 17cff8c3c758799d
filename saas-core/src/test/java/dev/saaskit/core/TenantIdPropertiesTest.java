package dev.saaskit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Rules of {@link TenantId} that must hold for every input: seeded random samples ({@link Samples}) and the
 * boundary cases the random ones may miss (a separate class so reports count them).
 */
class TenantIdPropertiesTest {

  @TestFactory
  Stream<DynamicTest> everyAcceptedStringRoundTrips() {
    return Samples.check(1000, r -> anyString(r, 140), TenantIdPropertiesTest::roundTripsIfAccepted);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "a", "a b", " a", "a ", "\t", "\u0000", "\u007f", "\u0085", "\u00a0x",
      "\u200bx", "x\ud800", "\udc00x", "\ud83d\ude00", "\ud83d", "é", "日本", "tenant\"; drop table x; --"})
  void boundaryStringsRoundTripIfAccepted(String value) {
    roundTripsIfAccepted(value);
  }

  @ParameterizedTest
  @ValueSource(ints = {TenantId.MAX_LENGTH - 1, TenantId.MAX_LENGTH, TenantId.MAX_LENGTH + 1})
  void lengthsAroundTheLimit(int length) {
    String value = "x".repeat(length);
    roundTripsIfAccepted(value);
    assertThat(accepted(value)).isEqualTo(length <= TenantId.MAX_LENGTH);
  }

  static void roundTripsIfAccepted(String value) {
    TenantId id;
    try {
      id = TenantId.of(value);
    } catch (IllegalArgumentException rejected) {
      return;
    }
    assertThat(id.value()).isEqualTo(value);
    assertThat(id).isEqualTo(TenantId.of(id.value()));
    assertThat(id.hashCode()).isEqualTo(value.hashCode());
  }

  @TestFactory
  Stream<DynamicTest> everyPlainPrintableStringIsAccepted() {
    return Samples.check(1000, TenantIdPropertiesTest::printable,
        value -> assertThat(TenantId.of(value).value()).isEqualTo(value));
  }

  @TestFactory
  Stream<DynamicTest> everyStringWithAnIsoControlCharIsRejected() {
    return Samples.check(1000, TenantIdPropertiesTest::withControlChar,
        value -> assertThatThrownBy(() -> TenantId.of(value)).isInstanceOf(IllegalArgumentException.class));
  }

  private static boolean accepted(String value) {
    try {
      TenantId.of(value);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * Any string up to {@code maxLength} chars, short ones more often: printable ASCII, white space, control
   * characters, anything in the Basic Multilingual Plane (lone surrogates and format characters included) and
   * supplementary characters as surrogate pairs.
   */
  static String anyString(RandomGenerator r, int maxLength) {
    int length = r.nextBoolean() ? r.nextInt(0, 11) : r.nextInt(0, maxLength + 1);
    StringBuilder s = new StringBuilder();
    while (s.length() < length) {
      int kind = r.nextInt(20);
      if (kind < 9) {
        s.append((char) r.nextInt(' ', '~' + 1));
      } else if (kind < 11) {
        s.append(" \t\n\r\u000b\u000c\u00a0\u2028\u3000".charAt(r.nextInt(9)));
      } else if (kind < 12) {
        s.append((char) r.nextInt(0, 0x20));
      } else if (kind < 17) {
        s.append((char) r.nextInt(0x80, 0x10000));
      } else if (s.length() + 2 <= length) {
        s.appendCodePoint(r.nextInt(0x10000, 0x110000));
      }
    }
    return s.toString();
  }

  /** Printable ASCII with no space at either end, 2 to 128 chars. */
  static String printable(RandomGenerator r) {
    StringBuilder s = new StringBuilder().append((char) r.nextInt('!', '~' + 1));
    int middle = r.nextBoolean() ? r.nextInt(0, 9) : r.nextInt(0, 127);
    for (int i = 0; i < middle; i++) {
      s.append((char) r.nextInt(' ', '~' + 1));
    }
    return s.append((char) r.nextInt('!', '~' + 1)).toString();
  }

  /** Any string around one ISO control character (U+0000-U+001F or U+007F-U+009F). */
  static String withControlChar(RandomGenerator r) {
    int control = r.nextInt(0, 0x20 + 0x21);
    char c = (char) (control < 0x20 ? control : 0x7f + control - 0x20);
    return anyString(r, 60) + c + anyString(r, 60);
  }
}
