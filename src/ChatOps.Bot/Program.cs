using ChatOps.Bot.Cli;

// chatops <verb>: demo, list … — each verb composes what it needs (see Cli/).
return await ChatOpsCommandLine.Create().Parse(args).InvokeAsync();
