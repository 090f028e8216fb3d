namespace CtiBridge.Asterisk.Ari;

/// <summary>A REST transport of <see cref="AriClient"/>'s own (one request at a time per connection, or pipelined).</summary>
internal interface IAriRestTransport : IDisposable
{
    /// <summary>
    /// Sends one request and reads its whole answer. Transport failures are <see cref="IOException"/>,
    /// <see cref="System.Net.Sockets.SocketException"/> or <see cref="System.Security.Authentication.AuthenticationException"/>;
    /// a cancelled <paramref name="cancellationToken"/> gives <see cref="OperationCanceledException"/>.
    /// </summary>
    ValueTask<AriHttpResponse> SendAsync(string method, string path, string? query, byte[]? body, CancellationToken cancellationToken);
}
