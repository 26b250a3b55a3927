using ChatOps.Bot.Cli;

// chatops <verb>: demo, list … — each verb composes what it needs (see Cli/).
// The verbs that run against a target handle Ctrl-C / SIGTERM themselves (OperatorSignals): no 2-second termination timeout.
return await ChatOpsCommandLine.Create().Parse(args).InvokeAsync(new System.CommandLine.InvocationConfiguration { ProcessTerminationTimeout = null });
