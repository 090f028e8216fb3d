using CtiBridge.Service.Cli;

return await CtiBridgeCommandLine.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
