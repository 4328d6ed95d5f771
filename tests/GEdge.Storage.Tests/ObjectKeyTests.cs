using GEdge.Contracts;
using GEdge.Storage;

namespace GEdge.Storage.Tests;

public sealed class ObjectKeyTests
{
    [Theory]
    [InlineData("alice/clip.mp4")]
    [InlineData("alice/2024/clip one.mp4")]
    [InlineData("jobs/42/frames/000001.raw")]
    public void Validate_WhenKeyIsRelativeAndClean_ReturnsIt(string key) =>
        Assert.Equal(key, ObjectKey.Validate(key));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("alice/../bob/clip.mp4", "'..'")]
    [InlineData("../x", "'..'")]
    [InlineData("alice/./clip.mp4", "'.'")]
    [InlineData("alice//clip.mp4", "empty segment")]
    [InlineData("alice/", "empty segment")]
    [InlineData("alice\\..\\bob", "backslash")]
    [InlineData("alice/cl\u0000ip.mp4", "control character")]
    [InlineData("alice/cl\nip.mp4", "control character")]
    public void Validate_WhenKeyIsUnsafe_ThrowsNamingTheReason(string key, string reason)
    {
        var error = Assert.Throws<InvalidObjectKeyException>(() => ObjectKey.Validate(key));
        Assert.Contains(reason, error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WhenKeyIsLongerThanS3Allows_Throws() =>
        Assert.Throws<InvalidObjectKeyException>(() => ObjectKey.Validate("a/" + new string('x', ObjectKey.MaxKeyBytes)));

    [Theory]
    [InlineData("../../x", "x")]
    [InlineData("/etc/passwd", "passwd")]
    [InlineData("C:\\Users\\bob\\clip.mp4", "clip.mp4")]
    [InlineData("..", "video")]
    [InlineData("", "video")]
    [InlineData("a\u0001b\rc.mp4", "a_b_c.mp4")]
    [InlineData("../../bob/.hidden.mp4", "hidden.mp4")]
    [InlineData(".mp4", "video.mp4")]
    [InlineData("..mp4", "video.mp4")]
    [InlineData("....mp4", "video.mp4")]
    [InlineData(" .mp4", "video.mp4")]
    [InlineData(". .mp4", "video.mp4")]
    public void ForUpload_WhenFileNameIsHostile_StaysInsideTheUsersPrefix(string fileName, string expectedName) =>
        Assert.Equal($"alice/u1/{expectedName}", ObjectKey.ForUpload("alice", "u1", fileName));

    [Fact]
    public void ForUpload_WhenFileNameIsVeryLong_KeepsABoundedName()
    {
        var key = ObjectKey.ForUpload("alice", "u1", new string('x', 5000) + ".mp4");
        Assert.StartsWith("alice/u1/", key, StringComparison.Ordinal);
        Assert.Equal(ObjectKey.MaxFileNameLength, key.Length - "alice/u1/".Length);
        // Cut before the extension, which names the container (and the job's type).
        Assert.EndsWith("xxx.mp4", key, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("al/ice")]
    [InlineData("al ice")]
    [InlineData("")]
    public void ValidateUser_WhenNameCouldLeaveItsPrefix_Throws(string user) =>
        Assert.ThrowsAny<ArgumentException>(() => ObjectKey.ValidateUser(user));

    [Theory]
    [InlineData("Uploads")]
    [InlineData("ab")]
    [InlineData("a..b")]
    [InlineData("-abc")]
    public void ValidateBucket_WhenNameIsNotAnS3BucketName_Throws(string bucket) =>
        Assert.Throws<InvalidObjectKeyException>(() => ObjectKey.ValidateBucket(bucket));
}
