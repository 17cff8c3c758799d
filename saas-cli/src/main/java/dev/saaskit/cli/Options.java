package dev.saaskit.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Helpers shared by the commands' option handling. */
final class Options {
  private Options() {}

  /** Runs a builder setter; the value it rejects (naming it) becomes a usage error that names the option. */
  static void checked(CommandSpec spec, String option, Runnable setter) {
    try {
      setter.run();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "invalid " + option + ": " + e.getMessage(), e);
    }
  }
}
