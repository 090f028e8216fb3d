using System.CommandLine;
using System.Text;
using CtiBridge.Data.Customers;

namespace CtiBridge.Service.Cli;

/// <summary>
/// <c>ctibridge customers import|export|put|delete</c>: the <c>customers</c> table that the customer
/// lookup reads with <c>callControl.customerLookup.source = database</c> (docs/call-control.md).
/// </summary>
public static class CustomersCommand
{
    /// <summary>Creates the command with its sub-commands.</summary>
    public static Command Create()
    {
        var command = new Command("customers", "The customers table (VIP, member, blacklist, own agent, language by caller number) read by the customer lookup from the database.");
        command.Subcommands.Add(CreateImport());
        command.Subcommands.Add(CreateExport());
        command.Subcommands.Add(CreatePut());
        command.Subcommands.Add(CreateDelete());
        return command;
    }

    private static Command CreateImport()
    {
        var file = new Argument<FileInfo>("file") { Description = "CSV, UTF-8, header number,customer_id,vip,member,blocked,assigned_agent,language (only number is required)." };
        var replace = new Option<bool>("--replace") { Description = "Also remove every customer not in the file (the file becomes the whole table)." };
        var command = new Command("import", "Add or replace the customers of a CSV file, all or nothing: any bad line is reported (line and column) and nothing is written.") { file, replace };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "customers import", async (dataSource, output, error) =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                await error.WriteLineAsync($"customers import: {path.FullName} does not exist.");
                return 2;
            }

            using var reader = new StreamReader(path.FullName, new UTF8Encoding(false, throwOnInvalidBytes: true));
            IReadOnlyList<Customer> customers;
            IReadOnlyList<string> problems;
            try
            {
                (customers, problems) = await CustomerCsv.ReadAsync(reader, ct);
            }
            catch (DecoderFallbackException)
            {
                await error.WriteLineAsync($"customers import: {path.Name} is not UTF-8 text; save it as UTF-8 and import again. Nothing was imported.");
                return 1;
            }

            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await error.WriteLineAsync($"{path.Name}: {problem}");
                }

                await error.WriteLineAsync($"customers import: {problems.Count} problem(s); nothing was imported.");
                return 1;
            }

            var (written, removed) = await new CustomerStore(dataSource).ImportAsync(customers, parse.GetValue(replace), ct);
            await output.WriteLineAsync($"customers import: {written} customer(s) written{(parse.GetValue(replace) ? $", {removed} not in the file removed" : string.Empty)}");
            return 0;
        }, ct));
        return command;
    }

    private static Command CreateExport()
    {
        var file = new Option<FileInfo?>("--output") { Description = "Write to this file (default: standard output)." };
        var blocked = new Option<bool>("--blocked") { Description = "Only the blacklist." };
        var command = new Command("export", "Write the customers table as CSV (the import's format), in number order.") { file, blocked };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "customers export", async (dataSource, output, _) =>
        {
            var store = new CustomerStore(dataSource);
            var all = new List<Customer>();
            string? after = null;
            while (true)
            {
                var page = await store.ListAsync(after, parse.GetValue(blocked) ? true : null, 10_000, ct);
                all.AddRange(page);
                if (page.Count < 10_000)
                {
                    break;
                }

                after = page[^1].Number;
            }

            if (parse.GetValue(file) is { } path)
            {
                await using var writer = new StreamWriter(path.FullName, false, new UTF8Encoding(false));
                CustomerCsv.Write(writer, all);
                await output.WriteLineAsync($"customers export: {all.Count} customer(s) written to {path.FullName}");
            }
            else
            {
                CustomerCsv.Write(output, all);
            }

            return 0;
        }, ct));
        return command;
    }

    private static Command CreatePut()
    {
        var number = new Argument<string>("number") { Description = "The caller number as the caller ID gives it (digits, optional leading +)." };
        var customerId = new Option<string?>("--customer-id") { Description = "CRM customer ID (screen pop)." };
        var vip = new Option<bool>("--vip") { Description = "Served first." };
        var member = new Option<bool>("--member") { Description = "Member (the IVR's caller node)." };
        var blocked = new Option<bool>("--blocked") { Description = "Blacklisted: hears the blocked prompt and is released." };
        var agent = new Option<string?>("--agent") { Description = "The customer's own agent (an agent ID)." };
        var language = new Option<string?>("--language") { Description = "Prompt language, e.g. zh, en, pt_BR." };
        var command = new Command("put", "Add or replace one customer (the whole row: flags not given are off).") { number, customerId, vip, member, blocked, agent, language };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "customers put", async (dataSource, output, error) =>
        {
            var customer = new Customer(parse.GetValue(number)!, parse.GetValue(customerId), parse.GetValue(vip), parse.GetValue(member), parse.GetValue(blocked), parse.GetValue(agent), parse.GetValue(language));
            if (CustomerRules.Problems(customer) is { Count: > 0 } problems)
            {
                foreach (var (_, message) in problems)
                {
                    await error.WriteLineAsync($"customers put: {message}.");
                }

                return 2;
            }

            await new CustomerStore(dataSource).PutAsync(customer, ct);
            await output.WriteLineAsync($"customers put: {customer.Number} stored");
            return 0;
        }, ct));
        return command;
    }

    private static Command CreateDelete()
    {
        var number = new Argument<string>("number") { Description = "The caller number." };
        var command = new Command("delete", "Remove one customer (an unknown caller from the next call on).") { number };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "customers delete", async (dataSource, output, error) =>
        {
            if (!await new CustomerStore(dataSource).DeleteAsync(parse.GetValue(number)!, ct))
            {
                await error.WriteLineAsync($"customers delete: no customer with number '{parse.GetValue(number)}'.");
                return 1;
            }

            await output.WriteLineAsync($"customers delete: {parse.GetValue(number)} removed");
            return 0;
        }, ct));
        return command;
    }
}
