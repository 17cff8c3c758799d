package com.example.notes;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class NotesAppTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  @Test
  void notesAreIsolatedCountedAndCached(TestDatabase db) throws Exception {
    // the test database has an owner and an app role like production; the worker role is made here
    String workerRole = db.createRole("worker", "");
    NotesApp.migrate(db.ownerDataSource(), db.appRole(), workerRole);
    try (HikariDataSource workerPool = db.newPool(workerRole, db.rolePassword(workerRole), 4);
         NotesApp app = NotesApp.start(db.appDataSource(), workerPool)) {
      long id = TenantContext.call(ACME, () -> app.add("hello brave new world"));

      assertEquals(1, TenantContext.call(ACME, app::count));
      assertEquals(0, TenantContext.call(GLOBEX, app::count));           // another tenant sees nothing

      Await.until("the word-count job ran", () -> TenantContext.call(ACME, () -> app.words(id)).isPresent());
      assertEquals(Optional.of(4), TenantContext.call(ACME, () -> app.words(id)));
      assertEquals(Optional.empty(), TenantContext.call(GLOBEX, () -> app.words(id)));

      // adding a note invalidates the cached count on every node, this one too, once the bus delivers it
      TenantContext.run(ACME, () -> app.add("second"));
      Await.until("the cached count is invalidated", () -> TenantContext.call(ACME, app::count) == 2);
    }
  }
}
