using System.Globalization;
using System.Net;

namespace CtiBridge.PbxSim.Ami;

/// <summary>
/// Asterisk's AMI security events (class <c>security</c>): what a logged-in monitor sees when
/// somebody logs in, fails a login or sends an action before logging in.
/// </summary>
internal sealed class SecurityEvents(PbxSimulator simulator)
{
    private const string NeverAuthenticated = "1970-01-01T00:00:00.000+0000";

    public void SuccessfulAuth(AmiSession session) =>
        Publish(Start("SuccessfulAuth", "Informational", 1, session.User!.Username, session)
            .Add("UsingPassword", "0")
            .Add("SessionTV", Tv(session.AuthenticatedAt)));

    public void RequestNotAllowed(AmiSession session, string action) =>
        Publish(Start("RequestNotAllowed", "Error", 1, session.User?.Username ?? string.Empty, session)
            .Add("RequestType", "Action: " + action)
            .Add("SessionTV", Tv(session.AuthenticatedAt)));

    public void InvalidPassword(AmiSession session, string username) =>
        Publish(Start("InvalidPassword", "Error", 2, username, session).Add("SessionTV", NeverAuthenticated));

    public void InvalidAccountId(AmiSession session, string username) =>
        Publish(Start("InvalidAccountID", "Error", 1, username, session).Add("SessionTV", NeverAuthenticated));

    public void ChallengeResponseFailed(AmiSession session, string challenge, string response, string expected) =>
        Publish(Start("ChallengeResponseFailed", "Error", 1, string.Empty, session)
            .Add("Challenge", challenge)
            .Add("Response", response)
            .Add("ExpectedResponse", expected)
            .Add("SessionTV", NeverAuthenticated));

    private AmiMessage Start(string name, string severity, int version, string account, AmiSession session) =>
        new AmiMessage(13)
            .Add("Event", name)
            .Add("Privilege", AmiPrivileges.EventHeader(AmiPrivilege.Security))
            .Add("EventTV", Tv(simulator.Time.GetUtcNow()))
            .Add("Severity", severity)
            .Add("Service", "AMI")
            .Add("EventVersion", version.ToString(CultureInfo.InvariantCulture))
            .Add("AccountID", account)
            .Add("SessionID", session.SessionId)
            .Add("LocalAddress", Address(session.LocalEndPoint))
            .Add("RemoteAddress", Address(session.RemoteEndPoint));

    private void Publish(AmiMessage message)
    {
        lock (simulator.Gate)
        {
            simulator.Ami.Publish(AmiPrivilege.Security, message);
        }
    }

    private static string Address(IPEndPoint endPoint) =>
        string.Create(CultureInfo.InvariantCulture, $"IPV{(endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 6 : 4)}/TCP/{endPoint.Address}/{endPoint.Port}");

    /// <summary>Asterisk's event timestamp, e.g. <c>2026-11-22T16:38:59.043+0000</c>.</summary>
    public static string Tv(DateTimeOffset? time) =>
        time is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'+0000'", CultureInfo.InvariantCulture) : NeverAuthenticated;
}
