package dev.saaskit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TenantIdTest {

  @Test
  void rejectsNull() {
    assertThatThrownBy(() -> TenantId.of(nullString()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must not be null");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "   ", "\t", "\n", " \t\n "})
  void rejectsBlank(String value) {
    assertThatThrownBy(() -> TenantId.of(value))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("blank");
  }

  @ParameterizedTest
  @ValueSource(strings = {" acme", "acme ", " acme ", "\tacme", "acme\n", "\u2003acme"})
  void rejectsPaddedValues(String value) {
    assertThatThrownBy(() -> TenantId.of(value)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void paddedMessageNamesTheProblem() {
    assertThatThrownBy(() -> TenantId.of(" acme"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("white space");
  }

  @Test
  void acceptsExactlyMaxLengthAndRejectsOneMore() {
    String max = "a".repeat(TenantId.MAX_LENGTH);
    assertThat(TenantId.MAX_LENGTH).isEqualTo(128);
    assertThat(TenantId.of(max).value()).isEqualTo(max);
    assertThatThrownBy(() -> TenantId.of(max + "b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at most 128 characters but was 129");
  }

  @ParameterizedTest
  @ValueSource(strings = {"a\u0000b", "a\nb", "a\rb", "a\tb", "a\u001bb", "a\u007fb", "a\u0085b", "a\u009fb"})
  void rejectsControlCharacters(String value) {
    assertThatThrownBy(() -> TenantId.of(value))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("control or invalid characters")
        .hasMessageContaining("at index 1");
  }

  @ParameterizedTest
  @ValueSource(strings = {"a\u200bb", "a\u200db", "a\ufeffb", "a\u202eb"})
  void rejectsInvisibleFormatCharacters(String value) {
    assertThatThrownBy(() -> TenantId.of(value)).isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"a\ud800", "\ud800a", "a\udc00", "\udc00\ud800", "a\ud83d\ud83d", "\ud83d\ude80\ude80"})
  void rejectsUnpairedSurrogates(String value) {
    assertThatThrownBy(() -> TenantId.of(value))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("invalid characters");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "acme", "acme-corp_01", "42", "a b", "münchen", "東京",
      "\ud83d\ude80team", "A", "tenant.with.dots"})
  void acceptsValidIds(String value) {
    TenantId id = TenantId.of(value);
    assertThat(id.value()).isEqualTo(value);
    assertThat(id.toString()).isEqualTo(value);
  }

  @Test
  void equalsAndHashCodeFollowTheValueExactly() {
    TenantId a1 = TenantId.of("acme");
    TenantId a2 = TenantId.of(new String("acme".toCharArray()));
    assertThat(a1).isEqualTo(a2).isNotSameAs(a2);
    assertThat(a1.hashCode()).isEqualTo(a2.hashCode());
    assertThat(a1).isNotEqualTo(TenantId.of("ACME"));
    assertThat(a1).isNotEqualTo(TenantId.of("acme2"));
    assertThat((Object) a1).isNotEqualTo("acme");
    assertThat(a1.equals(null)).isFalse();
  }

  @Test
  void compareToOrdersByValue() {
    List<TenantId> ids = new ArrayList<>(List.of(TenantId.of("b"), TenantId.of("a"), TenantId.of("B"),
        TenantId.of("ab")));
    Collections.sort(ids);
    assertThat(ids).extracting(TenantId::value).containsExactly("B", "a", "ab", "b");
    assertThat(TenantId.of("x").compareTo(TenantId.of("x"))).isZero();
    assertThat(TenantId.of("a").compareTo(TenantId.of("b"))).isNegative();
    assertThat(TenantId.of("b").compareTo(TenantId.of("a"))).isPositive();
  }

  @Test
  void serializationRoundTrips() throws Exception {
    TenantId id = TenantId.of("acme-ü-\ud83d\ude80");
    Object back = deserialize(serialize(id));
    assertThat(back).isEqualTo(id);
  }

  @Test
  void deserializationRejectsForgedInvalidValue() throws Exception {
    // Serialize a valid id, then swap one character of its value for a control character in the byte stream.
    byte[] bytes = serialize(TenantId.of("AAAAzzzz"));
    byte[] marker = "AAAAzzzz".getBytes(StandardCharsets.US_ASCII);
    int at = indexOf(bytes, marker);
    assertThat(at).isNotNegative();
    bytes[at] = 0x01;
    assertThatThrownBy(() -> deserialize(bytes))
        .isInstanceOf(InvalidObjectException.class)
        .hasMessageContaining("control or invalid characters");
  }

  private static String nullString() {
    return null;
  }

  private static byte[] serialize(Object o) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ObjectOutputStream oos = new ObjectOutputStream(out)) {
      oos.writeObject(o);
    }
    return out.toByteArray();
  }

  private static Object deserialize(byte[] bytes) throws IOException, ClassNotFoundException {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
      return in.readObject();
    }
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
      "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}",
      "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
      "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}"})
  void uuidSpellingsPostgresTakesAsOneValueGiveOneTenantId(String spelling) {
    assertThat(TenantId.ofUuid(spelling)).isEqualTo(TenantId.of("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    assertThat(TenantId.ofUuid(java.util.UUID.fromString("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")).value())
        .isEqualTo("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
      "a0eebc999c0b4ef8bb6d6bb9bd380a11-", "a0e-ebc999c0b4ef8bb6d6bb9bd380a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11",
      "a0eebc999c0b4ef8bb6d6bb9bd380a11}", "g0eebc999c0b4ef8bb6d6bb9bd380a11", " a0eebc999c0b4ef8bb6d6bb9bd380a11",
      "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11"})
  void textPostgresRefusesAsAUuidIsRefused(String spelling) {
    assertThatThrownBy(() -> TenantId.ofUuid(spelling))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a valid uuid");
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({
      "1, 1", "+1, 1", "+01, 1", "0001, 1", "-0, 0", "-007, -7", "9223372036854775807, 9223372036854775807",
      "-9223372036854775808, -9223372036854775808", "1_000, 1000", "0x1F, 31", "0o17, 15", "0b101, 5", "-0x10, -16"})
  void numberSpellingsGiveTheDecimalTenantId(String spelling, String canonical) {
    assertThat(TenantId.ofNumber(spelling).value()).isEqualTo(canonical);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "+", "-", "1.0", "1e3", "abc", "0x", "1__0", "_1", "1_", "9223372036854775808",
      "-9223372036854775809", "0x8000000000000000", "١٢٣"})
  void textPostgresRefusesAsABigintIsRefused(String spelling) {
    assertThatThrownBy(() -> TenantId.ofNumber(spelling)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void numberFromALongIsDecimal() {
    assertThat(TenantId.ofNumber(-42L).value()).isEqualTo("-42");
    assertThat(TenantId.ofNumber(Long.MIN_VALUE).value()).isEqualTo("-9223372036854775808");
  }
}
