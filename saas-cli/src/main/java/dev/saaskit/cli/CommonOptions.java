package dev.saaskit.cli;

import picocli.CommandLine.Option;

/** Options every command has (mixed in with {@code @Mixin}). */
final class CommonOptions {
  static final String VERBOSE = "--verbose";

  @Option(names = VERBOSE, order = 100, description = "Print the stack trace of an error and debug logging.")
  boolean verbose;

  /** Applies the options that must act before any work: call first thing in a command. */
  void apply() {
    if (verbose) {
      // read by slf4j-simple when the first logger is created, which happens after this in the command
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "debug");
    }
  }
}
