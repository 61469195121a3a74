using System.Diagnostics;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.TestSupport;

namespace LlamaNas.Core.Tests.IO;

public sealed class OutputLockTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string LockFile => _dir.File(OutputLock.FileName);

    [Fact]
    public void A_second_holder_gets_LNAS0111_naming_the_first_and_the_folder_is_free_after_dispose()
    {
        using (var first = OutputLock.Acquire(_dir.Path, "llamanas finetune A"))
        {
            Assert.Equal(LockFile, first.Path);
            var e = Assert.Throws<LlamaNasException>(() => OutputLock.Acquire(_dir.Path, "llamanas finetune B"));
            Assert.Equal(DiagnosticCodes.OutputFolderLocked, e.Code);
            Assert.Contains($"'llamanas finetune A' (pid {Environment.ProcessId} on {Environment.MachineName}", e.Message, StringComparison.Ordinal);
            Assert.Equal(DiagnosticCodes.OutputFolderLocked, Assert.Throws<LlamaNasException>(() => OutputLock.ThrowIfHeld(_dir.Path)).Code);
        }

        Assert.False(File.Exists(LockFile));
        OutputLock.ThrowIfHeld(_dir.Path);
        using var again = OutputLock.Acquire(_dir.Path, "llamanas finetune B");
    }

    [Fact]
    public void The_lock_of_a_dead_process_on_this_host_is_taken_over()
    {
        using var exited = Process.Start(new ProcessStartInfo("true"))!;
        exited.WaitForExit();
        WriteLock(exited.Id, Environment.MachineName, DateTime.UtcNow.AddMinutes(-1));

        OutputLock.ThrowIfHeld(_dir.Path);
        using var taken = OutputLock.Acquire(_dir.Path, "llamanas finetune");
        Assert.Contains($"\"pid\":{Environment.ProcessId}", File.ReadAllText(LockFile), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.stale-*"));
    }

    [Fact]
    public void A_reused_pid_with_another_start_time_is_stale()
    {
        WriteLock(Environment.ProcessId, Environment.MachineName, DateTime.UtcNow.AddDays(-3));
        using var taken = OutputLock.Acquire(_dir.Path, "llamanas finetune");
    }

    [Fact]
    public void A_lock_of_another_host_is_never_taken_over()
    {
        WriteLock(1, "some-other-host", DateTime.UtcNow.AddDays(-30));
        var e = Assert.Throws<LlamaNasException>(() => OutputLock.Acquire(_dir.Path, "llamanas finetune"));
        Assert.Equal(DiagnosticCodes.OutputFolderLocked, e.Code);
        Assert.Contains("some-other-host", e.Message, StringComparison.Ordinal);
        Assert.Contains($"delete {OutputLock.FileName}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fresh_unreadable_lock_is_held_and_an_old_one_is_stale()
    {
        File.WriteAllText(LockFile, string.Empty);
        Assert.Equal(DiagnosticCodes.OutputFolderLocked, Assert.Throws<LlamaNasException>(() => OutputLock.Acquire(_dir.Path, "x")).Code);

        File.SetLastWriteTimeUtc(LockFile, DateTime.UtcNow.AddMinutes(-5));
        using var taken = OutputLock.Acquire(_dir.Path, "x");
    }

    [Fact]
    public void Dispose_leaves_a_lock_that_is_no_longer_its_own()
    {
        var first = OutputLock.Acquire(_dir.Path, "a");
        WriteLock(1, "some-other-host", DateTime.UtcNow);
        first.Dispose();
        Assert.True(File.Exists(LockFile));
    }

    private void WriteLock(int pid, string host, DateTime started) =>
        File.WriteAllText(LockFile, new JsonObject { ["pid"] = pid, ["host"] = host, ["started"] = started.ToString("O"), ["command"] = "llamanas finetune old" }.ToJsonString());
}
