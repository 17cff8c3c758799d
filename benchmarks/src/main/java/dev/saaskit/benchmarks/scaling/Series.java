package dev.saaskit.benchmarks.scaling;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * One measured series: an x column (the work, on a log scale) and named value columns. Written as a Markdown table
 * (printed and saved), a whitespace-separated data file for gnuplot, and a PNG plotted by gnuplot from the columns
 * named in {@link #plot}.
 */
final class Series {
  private final String name;
  private final String title;
  private final String xLabel;
  private final List<String> columns;
  private final List<double[]> rows = new ArrayList<>();
  private final List<String[]> cells = new ArrayList<>();

  /**
   * @param name file stem, e.g. {@code cache-entries}: files scaling-cache-entries.{md,dat,png}
   * @param columns the x column first, then the values
   */
  Series(String name, String title, String xLabel, List<String> columns) {
    this.name = name;
    this.title = title;
    this.xLabel = xLabel;
    this.columns = List.copyOf(columns);
  }

  /** Adds a row: numbers for the data file, and the same row as the table shows it. */
  void add(double[] values, String... shown) {
    if (values.length != columns.size() || shown.length != columns.size()) {
      throw new IllegalArgumentException("a row of " + name + " needs " + columns.size() + " values");
    }
    rows.add(values.clone());
    cells.add(shown.clone());
    System.out.println("  " + name + ": " + String.join(" | ", shown));
  }

  String markdown() {
    StringBuilder out = new StringBuilder();
    out.append("| ").append(String.join(" | ", columns)).append(" |\n|");
    for (int i = 0; i < columns.size(); i++) {
      out.append("---:|");
    }
    out.append('\n');
    for (String[] row : cells) {
      out.append("| ").append(String.join(" | ", row)).append(" |\n");
    }
    return out.toString();
  }

  /**
   * Writes the table and the data file into {@code dataDir}, then plots {@code plotted} (column indexes) against
   * x into {@code imageDir}/scaling-NAME.png with gnuplot. Without gnuplot the table and the data are still written
   * and the reason is printed.
   */
  void write(Path dataDir, Path imageDir, String yLabel, boolean logY, int... plotted) throws IOException {
    Files.createDirectories(dataDir);
    Files.createDirectories(imageDir);
    String stem = "scaling-" + name;
    Path table = dataDir.resolve(stem + ".md");
    Files.writeString(table, "### " + title + "\n\n" + markdown());
    Path data = dataDir.resolve(stem + ".dat");
    StringBuilder dat = new StringBuilder("# ");
    for (String c : columns) {
      dat.append('"').append(c).append("\" ");
    }
    dat.append('\n');
    for (double[] row : rows) {
      for (double v : row) {
        dat.append(String.format(Locale.ROOT, "%.6g ", v));
      }
      dat.append('\n');
    }
    Files.writeString(data, dat.toString());
    System.out.println("\n### " + title + "\n\n" + markdown());
    System.out.println("table: " + table + ", data: " + data);
    plot(data, imageDir.resolve(stem + ".png"), yLabel, logY, plotted);
  }

  private void plot(Path data, Path png, String yLabel, boolean logY, int... plotted) throws IOException {
    StringBuilder script = new StringBuilder();
    script.append("set terminal pngcairo size 720,420 font 'DejaVu Sans,10'\n")
        .append("set output '").append(png.toAbsolutePath()).append("'\n")
        .append("set title '").append(escape(title)).append("'\n")
        .append("set xlabel '").append(escape(xLabel)).append("'\n")
        .append("set ylabel '").append(escape(yLabel)).append("'\n")
        .append("set logscale x 10\nset format x '10^{%L}'\n")
        .append(logY ? "set logscale y 10\n" : "set yrange [0:*]\n")
        .append("set grid\nset key top left\n")
        .append("plot ");
    for (int i = 0; i < plotted.length; i++) {
      int col = plotted[i];
      script.append(i == 0 ? "" : ", ").append('\'').append(data.toAbsolutePath()).append("' using 1:")
          .append(col + 1).append(" with linespoints lw 2 pt 7 title '").append(escape(columns.get(col)))
          .append('\'');
    }
    script.append('\n');
    Path scriptFile = data.resolveSibling(data.getFileName().toString().replace(".dat", ".gp"));
    Files.writeString(scriptFile, script.toString());
    Process process;
    try {
      process = new ProcessBuilder("gnuplot", scriptFile.toAbsolutePath().toString())
          .redirectErrorStream(true).start();
    } catch (IOException e) {
      System.out.println("NO PLOT: gnuplot could not be started (" + e.getMessage() + "); install it (Debian:"
          + " apt-get install gnuplot-nox) and run 'gnuplot " + scriptFile + "'. The table and the data file are"
          + " written.");
      return;
    }
    try (InputStream in = process.getInputStream()) {
      String output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
        System.out.println("NO PLOT: gnuplot failed on " + scriptFile + ": " + output);
        return;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while gnuplot ran", e);
    }
    System.out.println("plot: " + png);
  }

  private static String escape(String text) {
    return text.replace("'", "''");
  }

  /** Formats with thousands separators, the way docs/benchmarks.md writes sizes. */
  static String count(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  static String fixed(double v, int decimals) {
    return String.format(Locale.ROOT, "%." + decimals + "f", v);
  }
}
