/**
 * The {@code saaskit} command line for operators, shipped as one runnable jar ({@code saas-cli/target/saaskit.jar}).
 * {@link dev.saaskit.cli.SaasKit} is the entry point; each command is a picocli command class in this package.
 * Nothing here is library API: the commands' options, outputs and exit codes are the contract (see
 * {@code docs/cli.md}).
 */
@NullMarked
package dev.saaskit.cli;

import org.jspecify.annotations.NullMarked;
