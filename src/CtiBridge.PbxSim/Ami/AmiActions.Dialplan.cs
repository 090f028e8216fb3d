using System.Globalization;
using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim.Ami;

/// <summary>
/// <c>ShowDialPlan</c>, as Asterisk 22's pbx.c answers it (manager_show_dialplan). Not in the
/// recordings: the wording and header order follow the Asterisk source — a list ack
/// <c>DialPlan list will follow</c>, one <c>ListDialplan</c> event per priority (extension names as
/// written, patterns with their <c>_</c>), <c>ShowDialPlanComplete</c> with the counters, and the
/// errors <c>Did not find context X</c> / <c>Did not find extension E@X</c> /
/// <c>Did not find extension E in any context</c>. The <c>Extension</c> filter matches like the
/// dialplan does (a DID finds the patterns it would run).
/// </summary>
internal sealed partial class AmiActions
{
    private void ShowDialPlan(AmiSession session, AmiMessage action, string? actionId)
    {
        var context = action["Context"];
        var exten = action["Extension"];
        lock (_sim.Gate)
        {
            var listing = _sim.Model.Dialplan.Listing()
                .Where(e => string.IsNullOrEmpty(context) || string.Equals(e.Context, context, StringComparison.Ordinal))
                .ToList();
            if (!string.IsNullOrEmpty(context) && listing.Count == 0 && !_sim.Model.Dialplan.ContextExists(context))
            {
                session.Send(Error(actionId, $"Did not find context {context}"));
                return;
            }

            var matching = listing
                .Where(e => string.IsNullOrEmpty(exten) || e.Extension == exten || (e.Extension.StartsWith('_') && Dialplan.Matches(e.Extension[1..], exten)))
                .ToList();
            if (!string.IsNullOrEmpty(exten) && matching.Count == 0)
            {
                session.Send(Error(actionId, string.IsNullOrEmpty(context) ? $"Did not find extension {exten} in any context" : $"Did not find extension {exten}@{context}"));
                return;
            }

            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "DialPlan list will follow"));
            var priorities = 0;
            foreach (var (name, extension, steps) in matching)
            {
                for (var i = 0; i < steps.Count; i++)
                {
                    priorities++;
                    session.Send(new AmiMessage(8).Add("Event", "ListDialplan").AddIfPresent("ActionID", actionId)
                        .Add("Context", name).Add("Extension", extension)
                        .Add("Priority", (i + 1).ToString(CultureInfo.InvariantCulture))
                        .Add("Application", steps[i].Application).Add("AppData", steps[i].Data)
                        .Add("Registrar", "pbx_config"));
                }
            }

            session.Send(ListComplete("ShowDialPlanComplete", actionId, priorities)
                .Add("ListExtensions", matching.Count.ToString(CultureInfo.InvariantCulture))
                .Add("ListPriorities", priorities.ToString(CultureInfo.InvariantCulture))
                .Add("ListContexts", matching.Select(m => m.Context).Distinct(StringComparer.Ordinal).Count().ToString(CultureInfo.InvariantCulture)));
        }
    }
}
