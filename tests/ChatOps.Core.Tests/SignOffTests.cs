using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class SignOffTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    // ana holds DBA and Product Owner; dan holds only DBA; sam: Senior Backend; olga: DevOps/SRE; pete: Product Owner.
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "ana", "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "ana", "pete" },
    });

    private static SignOffBook Book(SignOffPolicy? policy = null) => new("req", Holders, policy ?? new SignOffPolicy());

    private static IEnumerable<IReadOnlyList<string>> Orders(IReadOnlyList<string> people) =>
        people.Count <= 1 ? [people] : people.SelectMany((p, i) => Orders(people.Where((_, j) => j != i).ToList()).Select(rest => (IReadOnlyList<string>)[p, .. rest]));

    public static TheoryData<string[]> ApprovingSets => new()
    {
        // ana can cover DBA or Product Owner; with dan for DBA she must be the Product Owner.
        new[] { "ana", "dan", "sam", "olga" },
        new[] { "ana", "pete", "sam", "olga" },
        new[] { "dan", "pete", "sam", "olga" },
        // Five reactions: one more than needed, still four different people cover the four roles.
        new[] { "ana", "dan", "pete", "sam", "olga" },
    };

    [Theory]
    [MemberData(nameof(ApprovingSets))]
    public void Every_order_of_the_reactions_approves_when_some_assignment_of_distinct_people_covers_all_four_roles(string[] people)
    {
        foreach (var order in Orders(people))
        {
            var book = Book();
            for (var i = 0; i < order.Count; i++)
                Assert.True(book.Sign(order[i], [], T0.AddMinutes(i)).Counted);

            Assert.True(book.IsApproved(T0.AddMinutes(10)), $"order {string.Join(", ", order)}");
            var assignment = book.Assignment(T0.AddMinutes(10));
            Assert.Equal(4, assignment.Values.Distinct().Count());
            Assert.All(assignment, a => Assert.Contains(a.Key, Holders.RolesOf(a.Value, [])));
        }
    }

    [Fact]
    public void A_person_holding_two_roles_signing_first_does_not_block_the_holder_of_only_one_of_them()
    {
        var book = Book();
        book.Sign("ana", [], T0);                  // first-come would give her DBA …
        book.Sign("dan", [], T0.AddMinutes(1));    // … and dan (DBA only) would be left out
        book.Sign("sam", [], T0.AddMinutes(2));
        book.Sign("olga", [], T0.AddMinutes(3));

        var assignment = book.Assignment(T0.AddMinutes(4));
        Assert.Equal("dan", assignment[SignOffRole.DatabaseAdministrator]);
        Assert.Equal("ana", assignment[SignOffRole.ProductOwner]);
        Assert.True(book.IsApproved(T0.AddMinutes(4)));
    }

    [Fact]
    public void One_person_covers_at_most_one_role()
    {
        var book = Book();
        foreach (var p in new[] { "ana", "sam", "olga" })
            book.Sign(p, [], T0);
        Assert.False(book.IsApproved(T0));
        Assert.Equal(3, book.Assignment(T0).Count);
    }

    [Fact]
    public void Non_holders_the_requester_and_duplicates_do_not_count_and_say_why()
    {
        var book = Book();
        var stranger = book.Sign("mallory", [], T0);
        Assert.False(stranger.Counted);
        Assert.Contains("holds none of the four roles", stranger.Why);

        var requester = book.Sign("req", [], T0);
        Assert.False(requester.Counted);
        Assert.Contains("separation of duties", requester.Why);

        Assert.True(book.Sign("sam", [], T0).Counted);
        var again = book.Sign("sam", [], T0.AddSeconds(5));
        Assert.False(again.Counted);
        Assert.Contains("signed already", again.Why);
        Assert.Single(book.Signers);

        var allowed = Book(new SignOffPolicy(AllowRequester: true));
        Assert.True(allowed.Sign("req", [], T0).Counted);
    }

    [Fact]
    public void Revoking_before_execution_removes_the_sign_off_and_after_it_only_records_it()
    {
        var book = Book();
        foreach (var p in new[] { "dan", "pete", "sam", "olga" })
            book.Sign(p, [], T0);
        Assert.True(book.IsApproved(T0));

        var before = book.Revoke("olga", executionStarted: false);
        Assert.True(before.Counted);
        Assert.False(book.IsApproved(T0));

        book.Sign("olga", [], T0.AddMinutes(1));
        var after = book.Revoke("olga", executionStarted: true);
        Assert.False(after.Counted);
        Assert.Contains("no longer changes anything", after.Why);
        Assert.True(book.IsApproved(T0.AddMinutes(2)));

        Assert.False(book.Revoke("mallory", executionStarted: false).Counted);
    }

    [Fact]
    public void Sign_offs_expire_after_their_validity_and_a_changed_file_voids_them_all()
    {
        var book = Book(new SignOffPolicy(ValidFor: TimeSpan.FromHours(24)));
        book.Sign("dan", [], T0);
        foreach (var p in new[] { "pete", "sam", "olga" })
            book.Sign(p, [], T0.AddHours(20));
        Assert.True(book.IsApproved(T0.AddHours(23)));
        Assert.False(book.IsApproved(T0.AddHours(24)));   // dan's is a day old
        Assert.False(book.Assignment(T0.AddHours(24)).ContainsKey(SignOffRole.DatabaseAdministrator));

        book.Sign("ana", [], T0.AddHours(24));                 // ana can take over DBA
        Assert.True(book.IsApproved(T0.AddHours(24)));

        book.VoidAll();
        Assert.Empty(book.Signers);
        Assert.False(book.IsApproved(T0.AddHours(24)));
    }

    [Fact]
    public void Signing_again_after_ones_own_sign_off_expired_renews_it_and_it_counts_again()
    {
        var book = Book(new SignOffPolicy(ValidFor: TimeSpan.FromHours(24)));
        foreach (var p in new[] { "dan", "pete", "sam", "olga" })
            book.Sign(p, [], T0);
        Assert.True(book.IsApproved(T0.AddHours(23)));

        // Still valid: a second sign-off is a duplicate, and keeps the first one's time.
        var early = book.Sign("dan", [], T0.AddHours(23));
        Assert.False(early.Counted);
        Assert.Contains("signed already", early.Why);
        Assert.Equal(T0, book.Signers["dan"].At);

        // A day on, every sign-off has expired; dan signs again and his renewed one counts for DBA.
        var day = T0.AddHours(24);
        Assert.Empty(book.Assignment(day));
        var renewed = book.Sign("dan", [], day, SignOffGivenBy.Command);
        Assert.True(renewed.Counted, renewed.Why);
        Assert.Equal("dan signed again (their sign-off of 2026-11-28 02:00Z had expired) (Database Administrator)", renewed.Why);
        Assert.Equal((day, SignOffGivenBy.Command), (book.Signers["dan"].At, book.Signers["dan"].GivenBy));
        Assert.Equal([SignOffRole.DatabaseAdministrator], book.Signers["dan"].Roles);
        Assert.Equal("dan", Assert.Single(book.Assignment(day)).Value);

        foreach (var p in new[] { "pete", "sam", "olga" })
            Assert.True(book.Sign(p, [], day.AddMinutes(1)).Counted);
        Assert.True(book.IsApproved(day.AddMinutes(2)));
    }

    [Fact]
    public void An_expired_sign_off_restored_from_storage_does_not_block_signing_again()
    {
        var book = Book(new SignOffPolicy(ValidFor: TimeSpan.FromHours(1)));
        book.Restore([new("dan", new SignOffRecord(T0, [SignOffRole.DatabaseAdministrator], SignOffGivenBy.Reaction))]);
        Assert.False(book.Assignment(T0.AddHours(1)).ContainsKey(SignOffRole.DatabaseAdministrator));

        Assert.True(book.Sign("dan", [], T0.AddHours(1)).Counted);
        Assert.Equal(T0.AddHours(1), book.Signers["dan"].At);
        Assert.Equal("dan", book.Assignment(T0.AddHours(1))[SignOffRole.DatabaseAdministrator]);
        Assert.Equal(T0.AddHours(2), book.ExpiresAt(book.Signers["dan"]));
    }

    [Fact]
    public void Each_covering_role_attests_its_own_manual_items()
    {
        var book = Book();
        book.Sign("dan", [], T0);
        var attested = book.Attested(T0);
        Assert.NotEmpty(attested);
        Assert.All(attested, i => Assert.Equal(SignOffRole.DatabaseAdministrator, i.Role));
        Assert.Contains(attested, i => i.Name == "backup verified");
        Assert.DoesNotContain(attested, i => i.Name == "stakeholders notified");
    }
}
