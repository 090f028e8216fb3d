using CtiBridge.Data.Customers;
using CtiBridge.Service.CallControl;
using Npgsql;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/customers</c>: the editor of the <c>customers</c> table that the customer lookup reads
/// when <c>callControl.customerLookup.source</c> is <c>database</c> (VIP, member, blacklist, own
/// agent, language by caller number). Supervisors, integrations (CRM sync) and admins; every change
/// is audited. A change applies to the next call that enters.
/// </summary>
public static class CustomerEndpoints
{
    /// <summary>The body of <c>PUT /api/customers/{number}</c>: the whole row (absent flags are false, absent texts empty).</summary>
    /// <param name="CustomerId">CRM customer ID (screen pop), at most 200 characters.</param>
    /// <param name="Vip">Served first (the queue's <c>vipPriority</c>).</param>
    /// <param name="Member">Member (会员): the IVR's <c>caller</c> node sends members to their own flow.</param>
    /// <param name="Blocked">Blacklisted: hears the blocked prompt and is released.</param>
    /// <param name="AssignedAgent">The customer's own agent (所属坐席): an agent of <c>callControl.agents</c>.</param>
    /// <param name="Language">Prompt language, e.g. <c>zh</c>, <c>en</c>, <c>pt_BR</c>.</param>
    public sealed record CustomerBody(string? CustomerId, bool? Vip, bool? Member, bool? Blocked, string? AssignedAgent, string? Language);

    /// <summary>A customer as the API shows it.</summary>
    /// <param name="Number">The caller number (digits, optional leading +), as the caller ID gives it.</param>
    /// <param name="CustomerId">CRM customer ID.</param>
    /// <param name="Vip">Served first.</param>
    /// <param name="Member">Member.</param>
    /// <param name="Blocked">Blacklisted.</param>
    /// <param name="AssignedAgent">Own agent.</param>
    /// <param name="Language">Prompt language.</param>
    public sealed record CustomerView(string Number, string? CustomerId, bool Vip, bool Member, bool Blocked, string? AssignedAgent, string? Language);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapCustomerEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var customers = api.MapGroup("/customers").RequireAuthorization(ApiRoles.ManageCustomers).WithTags("customers");
        customers.MapGet("", ListAsync).WithSummary("List customers in number order (page with after=the last number seen; blocked=true for the blacklist).");
        customers.MapGet("/{number}", GetAsync).WithSummary("One customer by caller number.");
        customers.MapPut("/{number}", PutAsync).WithSummary("Add or replace a customer (201 when new, 200 when replaced); 400 naming every bad field.");
        customers.MapDelete("/{number}", DeleteAsync).WithSummary("Remove a customer: the number is an unknown caller from the next call on.");
        return api;
    }

    private static async Task<IResult> ListAsync(string? after, bool? blocked, int? limit, NpgsqlDataSource db, CancellationToken ct)
    {
        if (limit is < 1 or > 10_000)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit {limit} is out of range: 1-10000 (default 1000)."] });
        }

        var list = await new CustomerStore(db).ListAsync(string.IsNullOrEmpty(after) ? null : after, blocked, limit ?? 1000, ct);
        return Results.Ok(list.Select(View).ToList());
    }

    private static async Task<IResult> GetAsync(string number, NpgsqlDataSource db, CancellationToken ct) =>
        await new CustomerStore(db).FindAsync(number, ct) is { } customer ? Results.Ok(View(customer)) : NotFound(number);

    private static async Task<IResult> PutAsync(string number, CustomerBody? body, NpgsqlDataSource db, IServiceProvider services, CancellationToken ct)
    {
        if (body is null)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["The customer is required as JSON, e.g. {\"vip\":true,\"assignedAgent\":\"2001\"}."] });
        }

        var customer = new Customer(number, Blank(body.CustomerId), body.Vip ?? false, body.Member ?? false, body.Blocked ?? false, Blank(body.AssignedAgent), Blank(body.Language));
        var errors = CustomerRules.Problems(customer).GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray());
        var agents = services.GetService<CallCenter>()?.Settings.Agents ?? services.GetService<CallControlSettings>()?.Agents;
        if (customer.AssignedAgent is { } agent && !errors.ContainsKey("assignedAgent") && agents is not null
            && !agents.Any(a => string.Equals(a.Id, agent, StringComparison.Ordinal)))
        {
            errors["assignedAgent"] = [$"agent '{agent}' is not configured in callControl.agents"];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var store = new CustomerStore(db);
        var existed = await store.FindAsync(number, ct) is not null;
        await store.PutAsync(customer, ct);
        return existed ? Results.Ok(View(customer)) : Results.Created($"/api/customers/{Uri.EscapeDataString(number)}", View(customer));
    }

    private static async Task<IResult> DeleteAsync(string number, NpgsqlDataSource db, CancellationToken ct) =>
        await new CustomerStore(db).DeleteAsync(number, ct) ? Results.NoContent() : NotFound(number);

    private static IResult NotFound(string number) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such customer", detail: $"No customer with number '{number}' in the customers table.");

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static CustomerView View(Customer c) => new(c.Number, c.CustomerId, c.Vip, c.Member, c.Blocked, c.AssignedAgent, c.Language);
}
