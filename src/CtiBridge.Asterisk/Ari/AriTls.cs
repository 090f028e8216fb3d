using System.Net.Security;

namespace CtiBridge.Asterisk.Ari;

/// <summary>Applies <see cref="AriClientOptions.Tls"/> to one connection, REST or WebSocket alike.</summary>
internal static class AriTls
{
    /// <summary>A copy of the configured settings with the target host filled in (the options stay untouched).</summary>
    public static SslClientAuthenticationOptions ForHost(SslClientAuthenticationOptions tls, string host) => new()
    {
        TargetHost = tls.TargetHost ?? host,
        RemoteCertificateValidationCallback = tls.RemoteCertificateValidationCallback,
        LocalCertificateSelectionCallback = tls.LocalCertificateSelectionCallback,
        ClientCertificates = tls.ClientCertificates,
        ClientCertificateContext = tls.ClientCertificateContext,
        EnabledSslProtocols = tls.EnabledSslProtocols,
        CertificateRevocationCheckMode = tls.CertificateRevocationCheckMode,
        CertificateChainPolicy = tls.CertificateChainPolicy,
        CipherSuitesPolicy = tls.CipherSuitesPolicy,
        EncryptionPolicy = tls.EncryptionPolicy,
        AllowRenegotiation = tls.AllowRenegotiation,
        AllowTlsResume = tls.AllowTlsResume,
        ApplicationProtocols = tls.ApplicationProtocols,
    };
}
