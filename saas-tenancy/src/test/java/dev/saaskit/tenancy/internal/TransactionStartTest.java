package dev.saaskit.tenancy.internal;

import static org.assertj.core.api.Assertions.assertThat;

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
}
