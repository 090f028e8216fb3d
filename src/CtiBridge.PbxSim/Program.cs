using CtiBridge.PbxSim;

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

await using var sim = new PbxSimulator();
await sim.StartAsync(stop.Token);
Console.WriteLine($"pbxsim: AMI on {sim.AmiEndPoint}");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}
