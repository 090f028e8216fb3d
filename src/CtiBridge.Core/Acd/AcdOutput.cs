namespace CtiBridge.Core.Acd;

/// <summary>
/// Receives what the engine produces, synchronously and in order, while <see cref="AcdEngine.Handle(AcdInput)"/>
/// runs. Implementations must not call back into the engine (queue the work instead).
/// </summary>
public interface IAcdOutput
{
    /// <summary>A command for the PBX side.</summary>
    void Execute(AcdCommand command);

    /// <summary>A domain event for the records writer, wallboard and statistics.</summary>
    void Publish(AcdEvent domainEvent);
}

/// <summary>An <see cref="IAcdOutput"/> that keeps everything in lists (tests, simulation, batching in the service).</summary>
public sealed class AcdOutbox : IAcdOutput
{
    /// <summary>Commands in order.</summary>
    public List<AcdCommand> Commands { get; } = [];

    /// <summary>Events in order.</summary>
    public List<AcdEvent> Events { get; } = [];

    /// <inheritdoc />
    public void Execute(AcdCommand command) => Commands.Add(command);

    /// <inheritdoc />
    public void Publish(AcdEvent domainEvent) => Events.Add(domainEvent);

    /// <summary>Forgets everything collected so far.</summary>
    public void Clear()
    {
        Commands.Clear();
        Events.Clear();
    }
}
