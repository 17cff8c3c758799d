package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.postgres.internal.PgSnapshot;
import dev.saaskit.cache.postgres.internal.PgTagTemplate;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Pure logic of the internals: snapshot positions and tag templates. */
class PgInternalsTest {

  @Test
  void snapshotsParseAndRenderTheirInProgressList() {
    PgSnapshot s = PgSnapshot.parse("100:105:100,102");
    assertThat(s.xmin()).isEqualTo(100);
    assertThat(s.xmax()).isEqualTo(105);
    assertThat(s.xip()).containsExactly(100, 102);
    assertThat(s.xmaxText()).isEqualTo("105");
    assertThat(s.xipArrayText()).isEqualTo("{100,102}");
    assertThat(s).hasToString("100:105:100,102").isEqualTo(PgSnapshot.parse("100:105:100,102"));
    PgSnapshot idle = PgSnapshot.parse("736:736:");
    assertThat(idle.xip()).isEmpty();
    assertThat(idle.xipArrayText()).isEqualTo("{}");
    assertThatThrownBy(() -> PgSnapshot.parse("1:2")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aPositionMayHaveMissedOnlyTransactionsFromItsXminOn() {
    PgSnapshot s = PgSnapshot.parse("100:105:100,102");
    assertThat(s.mayHaveMissed(99)).isFalse();
    assertThat(s.mayHaveMissed(100)).isTrue();
    assertThat(s.mayHaveMissed(101)).isTrue(); // committed before the snapshot, but the check is conservative
    assertThat(s.mayHaveMissed(200)).isTrue();
    // xid8 values are unsigned 64-bit: epoch bits do not make them negative
    PgSnapshot high = PgSnapshot.parse("18446744073709551000:18446744073709551001:");
    assertThat(high.mayHaveMissed(Long.parseUnsignedLong("18446744073709550999"))).isFalse();
    assertThat(high.xmaxText()).isEqualTo("18446744073709551001");
  }

  @Test
  void tagTemplatesFollowTheSqlExpansionRules() {
    assertThat(PgTagTemplate.parse("plans:{tenant_id}").columns()).containsExactly("tenant_id");
    assertThat(PgTagTemplate.parse("{a}-{b}-{a}").columns()).containsExactly("a", "b");
    // like expand_tag: a placeholder ends at the next '}', a brace without a partner is literal
    assertThat(PgTagTemplate.parse("x{a{b}y").columns()).containsExactly("a{b");
    assertThat(PgTagTemplate.parse("x{a}{b").columns()).containsExactly("a");
    assertThatThrownBy(() -> PgTagTemplate.parse("x{}")).hasMessageContaining("empty placeholder");
    assertThatThrownBy(() -> PgTagTemplate.parse("}{")).hasMessageContaining("no {column} placeholder");
    assertThatThrownBy(() -> PgTagTemplate.parse("")).hasMessageContaining("tagTemplate must be 1 to 1024");
    assertThatThrownBy(() -> PgTagTemplate.parse("{a}").checkColumns("t", List.of("b")))
        .hasMessageContaining("names column 'a', which t does not have");
  }
}
