namespace CtiBridge.Asterisk.Ari;

/// <summary>Marks a type generated from an ARI model, so the conformance test can match it to Asterisk's description.</summary>
/// <param name="name">The model id in the description (e.g. <c>Channel</c>, <c>StasisStart</c>).</param>
/// <param name="resource">The description file that defines it, without <c>.json</c>.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class AriModelAttribute(string name, string resource) : Attribute
{
    /// <summary>The model id in the description.</summary>
    public string Name { get; } = name;

    /// <summary>The description file that defines the model, without <c>.json</c>.</summary>
    public string Resource { get; } = resource;
}

/// <summary>Marks a method that performs one ARI operation of Asterisk's description.</summary>
/// <param name="resource">The description file (e.g. <c>channels</c>).</param>
/// <param name="httpMethod">The HTTP method (<c>GET</c>, <c>POST</c>, <c>PUT</c>, <c>DELETE</c>).</param>
/// <param name="path">The path template relative to the ARI base URL (e.g. <c>/channels/{channelId}/answer</c>).</param>
/// <param name="nickname">The operation's nickname in the description.</param>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class AriOperationAttribute(string resource, string httpMethod, string path, string nickname) : Attribute
{
    /// <summary>The description file, without <c>.json</c>.</summary>
    public string Resource { get; } = resource;

    /// <summary>The HTTP method.</summary>
    public string HttpMethod { get; } = httpMethod;

    /// <summary>The path template relative to the ARI base URL.</summary>
    public string Path { get; } = path;

    /// <summary>The operation's nickname in the description.</summary>
    public string Nickname { get; } = nickname;
}

/// <summary>Where an ARI operation parameter travels.</summary>
public enum AriParameterLocation
{
    /// <summary>A segment of the URL path.</summary>
    Path,

    /// <summary>A query-string parameter.</summary>
    Query,

    /// <summary>A field of the JSON request body (or, for <c>object</c> parameters, the whole body).</summary>
    Body,
}

/// <summary>Names the ARI parameter a method parameter carries.</summary>
/// <param name="name">The parameter name on the wire.</param>
/// <param name="location">Where it travels.</param>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class AriParameterAttribute(string name, AriParameterLocation location) : Attribute
{
    /// <summary>The parameter name on the wire.</summary>
    public string Name { get; } = name;

    /// <summary>Where the parameter travels.</summary>
    public AriParameterLocation Location { get; } = location;
}
