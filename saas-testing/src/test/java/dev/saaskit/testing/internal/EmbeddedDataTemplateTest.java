package dev.saaskit.testing.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cached initdb result that the embedded server's data directory is copied from. */
class EmbeddedDataTemplateTest {

  @TempDir
  Path tmp;

  private static Path fakeDataDirectory(Path dir, String version) throws IOException {
    Files.createDirectories(dir.resolve("base/1"));
    Files.writeString(dir.resolve("PG_VERSION"), version + "\n");
    Files.writeString(dir.resolve("postgresql.conf"), "# test\n");
    Files.writeString(dir.resolve("base/1/saaskit-marker"), "catalog");
    Files.writeString(dir.resolve("epg-lock"), "");
    Files.writeString(dir.resolve("postmaster.pid"), "42");
    return dir;
  }

  @Test
  void savesACopyWithoutTheLockAndPidFilesAndCopiesItIntoAnEmptyDirectory() throws IOException {
    EmbeddedDataTemplate template = EmbeddedDataTemplate.at(tmp.resolve("template"));
    Path target = Files.createDirectory(tmp.resolve("target"));
    assertThat(template.copyInto(target)).as("no template yet").isFalse();

    template.save(fakeDataDirectory(tmp.resolve("initdb"), "17"));

    assertThat(tmp.resolve("template/base/1/saaskit-marker")).hasContent("catalog");
    assertThat(tmp.resolve("template/epg-lock")).doesNotExist();
    assertThat(tmp.resolve("template/postmaster.pid")).doesNotExist();
    try (var staging = Files.list(tmp)) {
      assertThat(staging.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-"));
    }
    assertThat(template.copyInto(target)).isTrue();
    assertThat(target.resolve("PG_VERSION")).hasContent("17");
    assertThat(target.resolve("base/1/saaskit-marker")).hasContent("catalog");
    assertThat(target.resolve("epg-lock")).doesNotExist();
  }

  @Test
  void theFirstSavedTemplateStays() throws IOException {
    EmbeddedDataTemplate template = EmbeddedDataTemplate.at(tmp.resolve("template"));
    template.save(fakeDataDirectory(tmp.resolve("first"), "17"));
    template.save(fakeDataDirectory(tmp.resolve("second"), "18"));
    assertThat(tmp.resolve("template/PG_VERSION")).hasContent("17");
  }

  @Test
  void aTemplateTheServerCannotStartFromIsReplacedByAFreshInitdb() throws Exception {
    Path templateDir = tmp.resolve("template");
    fakeDataDirectory(templateDir, "9.6");
    Files.delete(templateDir.resolve("epg-lock"));
    Files.delete(templateDir.resolve("postmaster.pid"));

    RunningServer server = SharedServer.startEmbedded(EmbeddedDataTemplate.at(templateDir));
    try (Connection c = server.connect(server.maintenanceDatabase());
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int / 10000")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getInt(1)).isEqualTo(17);
    } finally {
      server.stop();
    }
    assertThat(new String(Files.readAllBytes(templateDir.resolve("PG_VERSION")), StandardCharsets.UTF_8).trim())
        .as("the broken template was replaced by the fresh initdb")
        .isEqualTo("17");
    assertThat(templateDir.resolve("base/1/saaskit-marker")).as("nothing of the broken template is left").doesNotExist();
  }
}
