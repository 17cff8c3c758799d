package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs {@code java -jar target/saaskit.jar ...} as a child process, as an operator or a CI job would. */
final class CliProcess {
  private static final Duration TIMEOUT = Duration.ofSeconds(90);

  /** What one run produced. */
  record Result(int exitCode, String out, String err, Duration elapsed) {
    @Override
    public String toString() {
      return "exit " + exitCode + " after " + elapsed.toMillis() + " ms\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  private CliProcess() {}

  static Path jar() {
    Path jar = Paths.get(System.getProperty("saaskit.jar", "target/saaskit.jar"));
    assertThat(jar).as("the runnable jar (built in 'package')").isRegularFile();
    return jar;
  }

  static Result run(String... args) {
    return run(Map.of(), args);
  }

  /** Runs the jar with {@code args}; {@code env} entries are added to this JVM's environment. */
  static Result run(Map<String, String> env, String... args) {
    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    // a short-lived process: start fast, stay small (two cores are shared with other builds)
    command.add("-XX:TieredStopAtLevel=1");
    command.add("-XX:+UseSerialGC");
    command.add("-Xmx128m");
    command.add("-jar");
    command.add(jar().toString());
    command.addAll(List.of(args));
    try {
      File out = File.createTempFile("saaskit-out", ".txt");
      File err = File.createTempFile("saaskit-err", ".txt");
      try {
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out).redirectError(err);
        pb.environment().putAll(env);
        long start = System.nanoTime();
        Process process = pb.start();
        if (!process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
          throw new AssertionError("saaskit " + String.join(" ", args) + " did not end within " + TIMEOUT);
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
        return new Result(process.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8),
            Files.readString(err.toPath(), StandardCharsets.UTF_8), elapsed);
      } finally {
        Files.deleteIfExists(out.toPath());
        Files.deleteIfExists(err.toPath());
      }
    } catch (IOException e) {
      throw new AssertionError("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }
}
