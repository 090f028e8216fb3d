using System.Globalization;
using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim.Ami;

/// <summary>app_queue's AMI actions over PbxSim's queues (members, pauses, penalties, status, queue_log).</summary>
internal sealed partial class AmiActions
{
    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private void QueueStatus(AmiSession session, AmiMessage action, string? actionId)
    {
        var queueName = action["Queue"];
        var memberName = action["Member"];
        lock (_sim.Gate)
        {
            var now = Model.Now;
            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "Queue status will follow"));
            var count = 0;
            foreach (var queue in Model.Queues.Where(q => string.IsNullOrEmpty(queueName) || q.Name == queueName))
            {
                session.Send(new AmiMessage(15).Add("Event", "QueueParams").Add("Queue", queue.Name).Add("Max", Number(queue.Settings.MaxLen)).Add("Strategy", queue.Strategy)
                    .Add("Calls", Number(queue.Callers.Count)).Add("Holdtime", Number(queue.HoldTime)).Add("TalkTime", Number(queue.TalkTime))
                    .Add("Completed", Number(queue.Completed)).Add("Abandoned", Number(queue.Abandoned))
                    .Add("ServiceLevel", Number(queue.ServiceLevel)).Add("ServicelevelPerf", PbxModel.ServiceLevelPerf(queue)).Add("ServicelevelPerf2", PbxModel.ServiceLevelPerf2(queue))
                    .Add("Weight", Number(queue.Settings.Weight)).AddIfPresent("ActionID", actionId));
                count++;
                var members = queue.Members.Where(m => string.IsNullOrEmpty(memberName) || m.Interface == memberName || m.Name == memberName).ToList();
                foreach (var member in members)
                {
                    session.Send(Model.MemberHeaders(new AmiMessage(18).Add("Event", "QueueMember"), queue, member, forStatus: true).AddIfPresent("ActionID", actionId));
                    count++;
                }

                // Callers are listed unless the request named a member.
                if (!string.IsNullOrEmpty(memberName))
                {
                    continue;
                }

                for (var i = 0; i < queue.Callers.Count; i++)
                {
                    var caller = queue.Callers[i].Caller;
                    session.Send(new AmiMessage(14).Add("Event", "QueueEntry").Add("Queue", queue.Name).Add("Position", Number(i + 1))
                        .Add("Channel", caller.Name).Add("Uniqueid", caller.UniqueId)
                        .Add("CallerIDNum", OrUnknown(caller.CallerNum)).Add("CallerIDName", OrUnknown(caller.CallerName))
                        .Add("ConnectedLineNum", OrUnknown(caller.ConnectedNum)).Add("ConnectedLineName", OrUnknown(caller.ConnectedName))
                        .Add("Wait", Number(now.ToUnixTimeSeconds() - queue.Callers[i].JoinedAt.ToUnixTimeSeconds())).Add("Priority", "0")
                        .AddIfPresent("ActionID", actionId));
                    count++;
                }
            }

            session.Send(ListComplete("QueueStatusComplete", actionId, count));
        }
    }

    private static string OrUnknown(string value) => value.Length == 0 ? "<unknown>" : value;

    private void QueueSummary(AmiSession session, AmiMessage action, string? actionId)
    {
        var queueName = action["Queue"];
        lock (_sim.Gate)
        {
            var now = Model.Now.ToUnixTimeSeconds();
            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "Queue summary will follow"));
            var queues = Model.Queues.Where(q => string.IsNullOrEmpty(queueName) || q.Name == queueName).ToList();
            foreach (var queue in queues)
            {
                var available = queue.Members.Count(m => !m.Paused && !m.InCall && !Model.InWrapUp(queue, m) && Model.DeviceState(m.StateInterface) is "NOT_INUSE" or "UNKNOWN");
                var longest = queue.Callers.Count == 0 ? 0 : now - queue.Callers.Min(c => c.JoinedAt).ToUnixTimeSeconds();
                session.Send(new AmiMessage(10).Add("Event", "QueueSummary").Add("Queue", queue.Name).Add("LoggedIn", Number(queue.Members.Count))
                    .Add("Available", Number(available)).Add("Callers", Number(queue.Callers.Count)).Add("HoldTime", Number(queue.HoldTime))
                    .Add("TalkTime", Number(queue.TalkTime)).Add("LongestHoldTime", Number(longest))
                    .AddIfPresent("ActionID", actionId));
            }

            session.Send(ListComplete("QueueSummaryComplete", actionId, queues.Count));
        }
    }

    private void PublishMember(string name, CallQueue queue, QueueMember member) => Model.PublishMember(name, queue, member);

    private void QueueAdd(AmiSession session, AmiMessage action, string? actionId)
    {
        var queueName = action["Queue"];
        var iface = action["Interface"];
        if (string.IsNullOrEmpty(queueName) || string.IsNullOrEmpty(iface))
        {
            session.Send(Error(actionId, "'Queue' or 'Interface' not set."));
            return;
        }

        WithModel(() =>
        {
            var queue = Model.Queues.Find(q => q.Name == queueName);
            if (queue is null)
            {
                session.Send(Error(actionId, "Unable to add interface to queue: No such queue"));
                return;
            }

            if (queue.Members.Exists(m => m.Interface == iface))
            {
                session.Send(Error(actionId, "Unable to add interface: Already there"));
                return;
            }

            var member = new QueueMember
            {
                Interface = iface,
                Name = action["MemberName"] is { Length: > 0 } n ? n : iface,
                StateInterface = action["StateInterface"] is { Length: > 0 } s ? s : iface,
                Membership = "dynamic",
                Penalty = int.TryParse(action["Penalty"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 0,
                Paused = IsTrue(action["Paused"]),
                LoginTime = Model.Now.ToUnixTimeSeconds(),
            };
            queue.Members.Add(member);
            session.Send(Success(actionId, "Added interface to queue"));
            Model.PublishPauseState(queue, member);
            PublishMember("QueueMemberAdded", queue, member);
            Model.UpdateQueueAvailability(queue);
            Model.WriteQueueLog("MANAGER", queue.Name, member.Name, "ADDMEMBER", "");
        });
    }

    private void QueueRemove(AmiSession session, AmiMessage action, string? actionId)
    {
        var queueName = action["Queue"];
        var iface = action["Interface"];
        WithModel(() =>
        {
            var queue = Model.Queues.Find(q => q.Name == queueName);
            var member = queue?.Members.Find(m => m.Interface == iface);
            if (queue is null)
            {
                session.Send(Error(actionId, "Unable to remove interface: No such queue"));
                return;
            }

            if (member is null)
            {
                session.Send(Error(actionId, "Unable to remove interface: Not there"));
                return;
            }

            queue.Members.Remove(member);
            session.Send(Success(actionId, "Removed interface from queue"));
            PublishMember("QueueMemberRemoved", queue, member);
            Model.UpdateQueueAvailability(queue);
            Model.WriteQueueLog("MANAGER", queue.Name, member.Name, "REMOVEMEMBER", "");
        });
    }

    private void QueuePause(AmiSession session, AmiMessage action, string? actionId)
    {
        var iface = action["Interface"];
        var queueName = action["Queue"];
        var paused = IsTrue(action["Paused"]);
        WithModel(() =>
        {
            var targets = Model.Queues.Where(q => string.IsNullOrEmpty(queueName) || q.Name == queueName)
                .SelectMany(q => q.Members.Where(m => m.Interface == iface).Select(m => (Queue: q, Member: m))).ToList();
            if (targets.Count == 0)
            {
                session.Send(Error(actionId, "Interface not found"));
                return;
            }

            session.Send(Success(actionId, paused ? "Interface paused successfully" : "Interface unpaused successfully"));
            if (string.IsNullOrEmpty(queueName))
            {
                Model.WriteQueueLog("NONE", "NONE", targets[0].Member.Name, paused ? "PAUSEALL" : "UNPAUSEALL", paused ? action["Reason"] ?? "" : "");
            }

            foreach (var (queue, member) in targets)
            {
                member.Paused = paused;
                member.PausedReason = paused ? action["Reason"] ?? "" : "";
                if (paused)
                {
                    member.LastPause = Model.Now.ToUnixTimeSeconds();
                }

                Model.PublishPauseState(queue, member);
                Model.UpdateQueueAvailability(queue);
                PublishMember("QueueMemberPause", queue, member);
                Model.WriteQueueLog("NONE", queue.Name, member.Name, paused ? "PAUSE" : "UNPAUSE", member.PausedReason);
            }
        });
    }

    private void QueuePenalty(AmiSession session, AmiMessage action, string? actionId)
    {
        var iface = action["Interface"];
        var queueName = action["Queue"];
        if (!int.TryParse(action["Penalty"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var penalty) || penalty < 0)
        {
            session.Send(Error(actionId, "Invalid penalty"));
            return;
        }

        WithModel(() =>
        {
            var targets = Model.Queues.Where(q => string.IsNullOrEmpty(queueName) || q.Name == queueName)
                .SelectMany(q => q.Members.Where(m => m.Interface == iface).Select(m => (Queue: q, Member: m))).ToList();
            if (targets.Count == 0)
            {
                session.Send(Error(actionId, "Invalid interface, queuename or penalty"));
                return;
            }

            session.Send(Success(actionId, "Interface penalty set successfully"));
            foreach (var (queue, member) in targets)
            {
                member.Penalty = penalty;
                PublishMember("QueueMemberPenalty", queue, member);
                Model.WriteQueueLog("NONE", queue.Name, member.Interface, "PENALTY", Number(penalty));
            }
        });
    }

    private void QueueMemberRingInUse(AmiSession session, AmiMessage action, string? actionId)
    {
        var iface = action["Interface"];
        var queueName = action["Queue"];
        var ringInUse = IsTrue(action["RingInUse"]);
        WithModel(() =>
        {
            var targets = Model.Queues.Where(q => string.IsNullOrEmpty(queueName) || q.Name == queueName)
                .SelectMany(q => q.Members.Where(m => m.Interface == iface).Select(m => (Queue: q, Member: m))).ToList();
            if (targets.Count == 0)
            {
                session.Send(Error(actionId, "Invalid interface, queuename, or ringinuse value"));
                return;
            }

            session.Send(Success(actionId, "Interface ringinuse set successfully"));
            foreach (var (queue, member) in targets)
            {
                member.RingInUse = ringInUse;
                PublishMember("QueueMemberRinginuse", queue, member);
                Model.WriteQueueLog("NONE", queue.Name, member.Interface, "RINGINUSE", ringInUse ? "1" : "0");
                Model.UpdateQueueAvailability(queue);
            }
        });
    }

    private void QueueLog(AmiSession session, AmiMessage action, string? actionId)
    {
        var queue = action["Queue"];
        var eventName = action["Event"];
        if (string.IsNullOrEmpty(queue) || string.IsNullOrEmpty(eventName))
        {
            session.Send(Error(actionId, "Need 'Queue' and 'Event'"));
            return;
        }

        WithModel(() =>
        {
            Model.WriteQueueLog(action["UniqueId"] is { Length: > 0 } u ? u : "NONE", queue, action["Interface"] ?? "", eventName, action["Message"] ?? "");
            session.Send(Success(actionId, "Event added successfully"));
        });
    }
}
