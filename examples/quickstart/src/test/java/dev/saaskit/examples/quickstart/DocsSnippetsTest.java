package dev.saaskit.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Docs that drift from code are bugs: every {@code java} block in README.md and docs/*.md must be a region of a
 * compiled test, and every block marked as a whole file must be that file, byte for byte.
 *
 * <p>The rules, also written in docs/testing.md ("Docs snippets"):
 * <ul>
 *   <li>{@code <!-- snippet: path/To/SomeTest.java#name -->} on the line before a fence: the block holds optional
 *       {@code import} lines (each an import of that file), a blank line, then the lines between
 *       {@code // snippet: name} and {@code // end snippet} in that file, with their common indentation removed.</li>
 *   <li>{@code <!-- file: path/to/file -->} on the line before a fence: the block is that whole file.</li>
 *   <li>A {@code java} block without a marker fails the build.</li>
 *   <li>A snippet shows the imports of what it uses: every import of the test file whose simple name the region's
 *       code uses (strings and comments aside) is shown in that block or in an earlier block of the same page, so a
 *       page's snippets pasted together compile. Types of the test's own package (the page's example types) are
 *       the reader's own.</li>
 * </ul>
 */
class DocsSnippetsTest {

  private static final Pattern SNIPPET_MARKER = Pattern.compile("^<!-- snippet: (\\S+)#(\\S+) -->$");
  private static final Pattern FILE_MARKER = Pattern.compile("^<!-- file: (\\S+) -->$");
  private static final Pattern FENCE = Pattern.compile("^```(\\S*)\\s*$");
  private static final Pattern IMPORT = Pattern.compile("^import (static )?[\\w.]+\\.(\\w+);$");
  private static final Pattern STRING = Pattern.compile("\"(?:\\\\.|[^\"\\\\])*\"");

  @Test
  void everyJavaBlockInTheDocsIsCompiledCode() throws IOException {
    Path root = repositoryRoot();
    List<String> problems = new ArrayList<>();
    int checked = 0;
    for (Path doc : documents(root)) {
      checked += check(root, doc, problems, true);
    }
    assertThat(problems).as("docs that drifted from code (%d blocks checked)", checked).isEmpty();
    assertThat(checked).as("blocks checked").isGreaterThanOrEqualTo(40);
  }

  @Test
  void theCheckerCatchesASnippetThatDoesNotShowAnImportItUses(@org.junit.jupiter.api.io.TempDir Path dir)
      throws IOException {
    Files.createDirectories(dir.resolve("docs"));
    Files.writeString(dir.resolve("Sample.java"), String.join("\n",
        "import java.time.Duration;",
        "import java.util.List;",
        "import java.util.Map;",
        "class Sample {",
        "  void run() {",
        "    // snippet: one",
        "    List<String> names = List.of(\"Map\");   // not a Map",
        "    // end snippet",
        "    // snippet: two",
        "    Duration d = Duration.ofSeconds(names.size());",
        "    // end snippet",
        "  }",
        "}", ""));
    Files.writeString(dir.resolve("docs/page.md"), String.join("\n",
        "<!-- snippet: Sample.java#one -->", "```java", "import java.util.List;", "",
        "List<String> names = List.of(\"Map\");   // not a Map", "```",
        "<!-- snippet: Sample.java#two -->", "```java", "Duration d = Duration.ofSeconds(names.size());", "```",
        ""));
    List<String> problems = new ArrayList<>();
    check(dir, dir.resolve("docs/page.md"), problems, true);
    assertThat(problems).singleElement().asString()
        .contains("docs/page.md:8").contains("import java.time.Duration;");
    List<String> notHeld = new ArrayList<>();
    check(dir, dir.resolve("docs/page.md"), notHeld, false);
    assertThat(notHeld).isEmpty();
  }

  @Test
  void theCheckerCatchesADriftedBlockAMissingMarkerAndAnUnknownImport(@org.junit.jupiter.api.io.TempDir Path dir)
      throws IOException {
    Files.createDirectories(dir.resolve("docs"));
    Files.writeString(dir.resolve("Sample.java"), String.join("\n",
        "import java.util.List;",
        "class Sample {",
        "  void run() {",
        "    // snippet: one",
        "    List<String> names = List.of(\"a\");",
        "    // end snippet",
        "  }",
        "}", ""));
    Files.writeString(dir.resolve("docs/good.md"), String.join("\n",
        "<!-- snippet: Sample.java#one -->", "```java", "import java.util.List;", "",
        "List<String> names = List.of(\"a\");", "```", ""));
    Files.writeString(dir.resolve("docs/bad.md"), String.join("\n",
        "```java", "int unmarked;", "```",
        "<!-- snippet: Sample.java#one -->", "```java", "List<String> names = List.of(\"b\");", "```",
        "<!-- snippet: Sample.java#one -->", "```java", "import java.util.Map;", "",
        "List<String> names = List.of(\"a\");", "```",
        "<!-- snippet: Sample.java#two -->", "```java", "x", "```",
        "- a list item:", "", "  ```java", "  int indentedAndUnmarked;", "  ```", ""));
    List<String> good = new ArrayList<>();
    assertThat(check(dir, dir.resolve("docs/good.md"), good, true)).isEqualTo(1);
    assertThat(good).isEmpty();
    List<String> bad = new ArrayList<>();
    check(dir, dir.resolve("docs/bad.md"), bad, false);
    assertThat(bad).hasSize(5);
    assertThat(String.join("\n", bad))
        .contains("without a snippet marker")
        .contains("differs from")
        .contains("java.util.Map")
        .contains("no region 'two'")
        .contains("bad.md:20: java block without a snippet marker");
  }

  private static List<Path> documents(Path root) throws IOException {
    List<Path> docs = new ArrayList<>();
    docs.add(root.resolve("README.md"));
    try (Stream<Path> files = Files.list(root.resolve("docs"))) {
      files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
    }
    return docs;
  }

  /** Checks one markdown file, adding a line per problem; returns how many marked blocks it compared. */
  private static int check(Path root, Path doc, List<String> problems, boolean requireImports)
      throws IOException {
    List<String> lines = Files.readAllLines(doc);
    String docName = root.relativize(doc).toString();
    int compared = 0;
    java.util.Set<String> shownOnPage = new java.util.HashSet<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      Matcher fence = FENCE.matcher(line.strip());
      if (!fence.matches()) {
        continue;
      }
      // a block inside a list item is indented as a whole: compare it without that indentation
      int indent = line.length() - line.stripLeading().length();
      int end = i + 1;
      while (end < lines.size() && !lines.get(end).strip().startsWith("```")) {
        end++;
      }
      List<String> block = new ArrayList<>();
      for (String blockLine : lines.subList(i + 1, Math.min(end, lines.size()))) {
        block.add(blockLine.length() >= indent && blockLine.substring(0, indent).isBlank()
            ? blockLine.substring(indent) : blockLine.strip());
      }
      String where = docName + ":" + (i + 1);
      String marker = i > 0 ? lines.get(i - 1).trim() : "";
      Matcher snippet = SNIPPET_MARKER.matcher(marker);
      Matcher file = FILE_MARKER.matcher(marker);
      if (snippet.matches()) {
        compared++;
        compareSnippet(root, where, snippet.group(1), snippet.group(2), block, problems, shownOnPage,
            requireImports);
      } else if (file.matches()) {
        compared++;
        compareFile(root, where, file.group(1), block, problems);
      } else if (fence.group(1).equals("java")) {
        problems.add(where + ": java block without a snippet marker (<!-- snippet: path/To/Test.java#name -->)");
      }
      i = end;
    }
    return compared;
  }

  /**
   * Compares one snippet block with its region; adds the block's imports to {@code shownOnPage} (the imports shown
   * by the page so far) and, with {@code requireImports}, requires every import the region's code uses among them.
   */
  private static void compareSnippet(Path root, String where, String path, String name, List<String> block,
      List<String> problems, java.util.Set<String> shownOnPage, boolean requireImports) {
    Path source = root.resolve(path);
    if (!Files.isRegularFile(source)) {
      problems.add(where + ": snippet source " + path + " does not exist");
      return;
    }
    List<String> sourceLines = readLines(source);
    Optional<List<String>> region = region(sourceLines, name);
    if (region.isEmpty()) {
      problems.add(where + ": " + path + " has no region '" + name + "' (// snippet: " + name
          + " ... // end snippet)");
      return;
    }
    int body = 0;
    while (body < block.size() && block.get(body).startsWith("import ")) {
      String imported = block.get(body).trim();
      // a class of the test's own package needs no import there, but the reader's code does
      String samePackage = sourceLines.stream().filter(l -> l.startsWith("package ")).findFirst()
          .map(l -> "import " + l.substring("package ".length(), l.length() - 1) + ".")
          .orElse("\u0000");
      boolean ownPackage = imported.startsWith(samePackage) && imported.indexOf('.', samePackage.length()) < 0;
      if (!ownPackage && sourceLines.stream().noneMatch(l -> l.trim().equals(imported))) {
        problems.add(where + ": '" + imported + "' is not an import of " + path);
      }
      body++;
    }
    if (body > 0) {
      if (body < block.size() && block.get(body).isBlank()) {
        body++;
      } else {
        problems.add(where + ": the imports must be followed by one blank line");
      }
    }
    for (String line : block.subList(0, body)) {
      shownOnPage.add(line.trim());
    }
    if (requireImports) {
      for (String used : importsUsed(sourceLines, region.get())) {
        if (!shownOnPage.contains(used)) {
          problems.add(where + ": the block uses what '" + used + "' imports but neither it nor an earlier block"
              + " of the page shows that import");
        }
      }
    }
    List<String> shown = trimEnds(block.subList(body, block.size()));
    List<String> expected = trimEnds(region.get());
    if (!shown.equals(expected)) {
      problems.add(where + ": the block differs from " + path + "#" + name + "; it should read:\n"
          + String.join("\n", expected));
    }
  }

  private static void compareFile(Path root, String where, String path, List<String> block, List<String> problems) {
    Path file = root.resolve(path);
    if (!Files.isRegularFile(file)) {
      problems.add(where + ": file " + path + " does not exist");
      return;
    }
    if (!trimEnds(block).equals(trimEnds(readLines(file)))) {
      problems.add(where + ": the block is not the whole of " + path);
    }
  }

  /** The imports of {@code source} whose simple name the code of {@code region} uses (strings, comments aside). */
  static List<String> importsUsed(List<String> source, List<String> region) {
    StringBuilder code = new StringBuilder();
    for (String line : region) {
      String withoutStrings = STRING.matcher(line).replaceAll("\"\"");
      int comment = withoutStrings.indexOf("//");
      code.append(comment < 0 ? withoutStrings : withoutStrings.substring(0, comment)).append('\n');
    }
    List<String> used = new ArrayList<>();
    for (String line : source) {
      Matcher imported = IMPORT.matcher(line.trim());
      if (imported.matches() && Pattern.compile("(?<![\\w.])" + Pattern.quote(imported.group(2)) + "\\b")
          .matcher(code).find()) {
        used.add(line.trim());
      }
    }
    return used;
  }

  private static Optional<List<String>> region(List<String> source, String name) {
    int start = -1;
    for (int i = 0; i < source.size(); i++) {
      String line = source.get(i).trim();
      if (start < 0 && line.equals("// snippet: " + name)) {
        start = i + 1;
      } else if (start >= 0 && line.equals("// end snippet")) {
        return Optional.of(dedent(source.subList(start, i)));
      }
    }
    return Optional.empty();
  }

  private static List<String> dedent(List<String> lines) {
    int indent = lines.stream()
        .filter(l -> !l.isBlank())
        .mapToInt(l -> l.length() - l.stripLeading().length())
        .min()
        .orElse(0);
    List<String> out = new ArrayList<>();
    for (String line : lines) {
      out.add(line.isBlank() ? "" : line.substring(indent));
    }
    return out;
  }

  /** Strips trailing spaces of each line and blank lines at both ends. */
  private static List<String> trimEnds(List<String> lines) {
    List<String> out = new ArrayList<>();
    for (String line : lines) {
      out.add(line.stripTrailing());
    }
    while (!out.isEmpty() && out.get(0).isEmpty()) {
      out.remove(0);
    }
    while (!out.isEmpty() && out.get(out.size() - 1).isEmpty()) {
      out.remove(out.size() - 1);
    }
    return out;
  }

  private static List<String> readLines(Path file) {
    try {
      return Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path repositoryRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !(Files.isDirectory(dir.resolve("docs")) && Files.isRegularFile(dir.resolve("mvnw")))) {
      dir = dir.getParent();
    }
    assertThat(dir).as("repository root above " + Path.of("").toAbsolutePath()).isNotNull();
    return dir;
  }
}
