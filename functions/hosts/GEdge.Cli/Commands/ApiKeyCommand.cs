using System.CommandLine;
using System.Globalization;
using GEdge.Cli.Cluster;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.Storage;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge api-key new USER</c>: a new API key, and the two gateway settings that let it in. The key is printed once
/// and stored nowhere; the gateway is configured with its hash only (a Secret in a cluster).
/// </summary>
internal static class ApiKeyCommand
{
    public static Command Create()
    {
        var user = new Argument<string>("user") { Description = "Whose key it is: its jobs and objects are this user's." };
        var index = new Option<int>("--index")
        {
            Description = "The entry's index in Gateway:ApiKeys (the next free one when the gateway has keys already).",
            DefaultValueFactory = _ => 0,
        };
        var create = new Command("new", "Print a new API key for USER, then the gateway settings (user and SHA-256) that let it in.") { user, index };
        create.SetAction(parse => New(parse.GetRequiredValue(user), parse.GetValue(index)));
        return new Command("api-key", "API keys for the gateway's HTTP API.") { create };
    }

    private static int New(string user, int index)
    {
        try
        {
            ObjectKey.ValidateUser(user);
        }
        catch (ArgumentException e)
        {
            return RunCommand.Fail(e.Message);
        }

        if (index < 0)
        {
            return RunCommand.Fail("--index must be 0 or more.");
        }

        var key = ApiKeys.New();
        var entry = string.Create(CultureInfo.InvariantCulture, $"{LocalApiKey.EnvironmentPrefix}{index}__");
        // stdout holds exactly the key and the two settings, for scripts; the explanation goes to stderr.
        Console.Out.WriteLine(key);
        Console.Out.WriteLine($"{entry}{nameof(GatewayApiKey.User)}={user}");
        Console.Out.WriteLine($"{entry}{nameof(GatewayApiKey.Sha256)}={ApiKeys.Hash(key)}");
        Console.Error.WriteLine(
            $"The first line is {user}'s API key; it is shown only now. Give the gateway the other two lines (in Kubernetes, as keys of " +
            "the gedge-api-keys Secret); they hold the key's hash, not the key.");
        return 0;
    }
}
