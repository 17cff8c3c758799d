package dev.saaskit.tenancy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TransactionStartTest {

  @ParameterizedTest
  @ValueSource(strings = {"BEGIN", "begin;", "  BEGIN WORK ; ", "begin transaction", "START TRANSACTION",
      "start transaction isolation level serializable, read only, deferrable",
      "BEGIN ISOLATION LEVEL REPEATABLE READ", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
      "begin\n\tisolation level serializable", "begin; "})
  void aLoneTransactionStartRunsWithoutTheSetting(String sql) {
    assertThat(TenantBinding.isTransactionStart(sql)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"BEGIN; SELECT * FROM notes", "begin;select 1", "BEGIN; DELETE FROM notes;",
      "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", "begin -- comment", "begin /* x */", "SELECT 1",
      "BEGIN;\nUPDATE notes SET body = 'x'", "COMMIT", "SET app.tenant_id = 'acme'", "begin;;",
      "with x as (select 1) select * from x", "BEGIN\u0000; SELECT 1", ""})
  void anythingElseGetsTheSetting(String sql) {
    assertThat(TenantBinding.isTransactionStart(sql)).isFalse();
  }

  /** The first-word shortcut must never turn away what the full pattern accepts (fixed seed: deterministic). */
  @Test
  void theShortcutAgreesWithThePatternOnRandomText() {
    Pattern full = Pattern.compile(
        "\\s*(?:begin|start\\s+transaction|set\\s+transaction)(?:[\\sa-z,]*)?;?\\s*", Pattern.CASE_INSENSITIVE);
    String[] parts = {"begin", "BEGIN", "start", "StArT", "set", "SET", "select", "transaction", " ", "\t", "\n",
        "\u000B", "\f", "\r", "\u00A0", "\u2003", ";", ",", "work", "x", "\u017F", "\u0130", "--", "'"};
    SplittableRandom random = new SplittableRandom(17);
    int accepted = 0;
    for (int i = 0; i < 200_000; i++) {
      StringBuilder sql = new StringBuilder();
      int n = random.nextInt(6);
      for (int j = 0; j < n; j++) {
        sql.append(parts[random.nextInt(parts.length)]);
      }
      boolean expected = full.matcher(sql).matches();
      assertThat(TenantBinding.isTransactionStart(sql.toString())).as("%s", sql).isEqualTo(expected);
      accepted += expected ? 1 : 0;
    }
    assertThat(accepted).isGreaterThan(1000);
  }
}
