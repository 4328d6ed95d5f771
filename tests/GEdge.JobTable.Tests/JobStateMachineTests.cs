using System.Text.RegularExpressions;
using GEdge.Contracts;
using GEdge.JobTable;
using static GEdge.Contracts.JobStatus;

namespace GEdge.JobTable.Tests;

/// <summary>The state machine as pure logic, checked against the table written out by hand.</summary>
public sealed partial class JobStateMachineTests
{
    // Every legal move, written out independently of the code under test.
    private static readonly HashSet<(JobStatus, JobStatus)> s_legal =
    [
        (Enqueue, Preprocessing), (Preprocessing, Preprocessing_complete), (Preprocessing_complete, Inferencing),
        (Inferencing, Inferencing_complete), (Inferencing_complete, Postprocessing), (Postprocessing, Postprocessing_complete),
        (Postprocessing_complete, Exit),
        (Enqueue, Exit), (Preprocessing, Exit), (Preprocessing_complete, Exit), (Inferencing, Exit), (Inferencing_complete, Exit),
        (Postprocessing, Exit),
        (Preprocessing, Enqueue), (Inferencing, Preprocessing_complete), (Postprocessing, Inferencing_complete),
    ];

    [Fact]
    public void IsLegal_AllowsExactlyTheForwardExitAndRetryMoves()
    {
        foreach (var from in Enum.GetValues<JobStatus>())
        {
            foreach (var to in Enum.GetValues<JobStatus>())
                Assert.True(s_legal.Contains((from, to)) == JobStateMachine.IsLegal(from, to), $"{from} -> {to}");
        }
    }

    [Fact]
    public void NextStatuses_OfExit_IsEmpty()
    {
        Assert.Empty(JobStateMachine.NextStatuses(Exit));
    }

    [Fact]
    public void NextStatuses_OfEnqueue_AreProcessingOrExit()
    {
        Assert.Equal([Preprocessing, Exit], JobStateMachine.NextStatuses(Enqueue).Order());
    }

    [Theory]
    [InlineData(Preprocessing, Enqueue, Preprocessing_complete)]
    [InlineData(Inferencing, Preprocessing_complete, Inferencing_complete)]
    [InlineData(Postprocessing, Inferencing_complete, Postprocessing_complete)]
    public void WorkingStatus_IsClaimedFromAndCompletesInto(JobStatus working, JobStatus consumed, JobStatus completion)
    {
        Assert.True(JobStateMachine.IsWorking(working));
        Assert.Equal(consumed, JobStateMachine.ConsumedBy(working));
        Assert.Equal(completion, JobStateMachine.CompletionOf(working));
    }

    [Fact]
    public void WorkingStatuses_AreTheThreeStagesInPipelineOrder()
    {
        Assert.Equal([Preprocessing, Inferencing, Postprocessing], JobStateMachine.WorkingStatuses);
        Assert.Equal(Enum.GetValues<JobStatus>(), JobStateMachine.Statuses);
    }

    [Theory]
    [InlineData(Enqueue)]
    [InlineData(Preprocessing_complete)]
    [InlineData(Exit)]
    public void ConsumedBy_ANonWorkingStatus_ThrowsNamingTheWorkingStatuses(JobStatus status)
    {
        var error = Assert.Throws<ArgumentException>(() => JobStateMachine.ConsumedBy(status));

        Assert.StartsWith($"{status} is not a working status; only Preprocessing, Inferencing, Postprocessing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsLegal_AnUndefinedStatus_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => JobStateMachine.IsLegal((JobStatus)42, Exit));
    }

    [Fact]
    public void IsTerminal_OnlyForExit()
    {
        Assert.Equal([Exit], Enum.GetValues<JobStatus>().Where(JobStateMachine.IsTerminal));
    }

    [Fact]
    public void StateMachineAsLua_ListsExactlyTheLegalMovesAndTheConsumedStatuses()
    {
        var lua = JobScripts.StateMachineAsLua();

        var legal = new HashSet<(JobStatus, JobStatus)>();
        foreach (Match row in LegalRow().Matches(lua))
        {
            var from = Enum.Parse<JobStatus>(row.Groups["from"].Value);
            foreach (Match to in LegalTarget().Matches(row.Groups["targets"].Value))
                Assert.True(legal.Add((from, Enum.Parse<JobStatus>(to.Groups["to"].Value))));
        }
        Assert.Equal(s_legal.Order(), legal.Order());
        Assert.Contains("local statuses = {'Enqueue', 'Preprocessing', 'Preprocessing_complete', 'Inferencing', " +
            "'Inferencing_complete', 'Postprocessing', 'Postprocessing_complete', 'Exit'}", lua, StringComparison.Ordinal);
        Assert.Contains("local consumed = {['Preprocessing'] = 'Enqueue', ['Inferencing'] = 'Preprocessing_complete', " +
            "['Postprocessing'] = 'Inferencing_complete'}", lua, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\['(?<from>\w+)'\] = \{(?<targets>[^}]*)\}")]
    private static partial Regex LegalRow();

    [GeneratedRegex(@"\['(?<to>\w+)'\] = true")]
    private static partial Regex LegalTarget();
}
