package dev.saaskit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.StringLength;

/** Rules of {@link TenantId} that must hold for every input (jqwik properties; a separate class so reports count them). */
class TenantIdPropertiesTest {

  @Property
  void everyAcceptedStringRoundTrips(@ForAll @StringLength(max = 140) String value) {
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

  @Property
  void everyPlainPrintableStringIsAccepted(@ForAll("printable") String value) {
    assertThat(TenantId.of(value).value()).isEqualTo(value);
  }

  @Property
  void everyStringWithAnIsoControlCharIsRejected(@ForAll("withControlChar") String value) {
    assertThatThrownBy(() -> TenantId.of(value)).isInstanceOf(IllegalArgumentException.class);
  }

  @Provide
  Arbitrary<String> printable() {
    Arbitrary<String> middle = Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(126);
    Arbitrary<Character> edge = Arbitraries.chars().range('!', '~');
    return Combinators.combine(edge, middle, edge).as((a, m, b) -> a + m + b);
  }

  @Provide
  Arbitrary<String> withControlChar() {
    Arbitrary<String> any = Arbitraries.strings().ofMaxLength(60);
    Arbitrary<Character> control =
        Arbitraries.chars().range('\u0000', '\u001f').range('\u007f', '\u009f');
    return Combinators.combine(any, control, any).as((before, c, after) -> before + c + after);
  }
}
