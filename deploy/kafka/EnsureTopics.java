/*
 * Waits until a Kafka cluster answers metadata requests, then creates the
 * topics that are missing (Admin API, KIP-4 CreateTopics). One JVM does both,
 * so `services:up` pays for a single JVM start instead of one TopicCommand per
 * topic. Run in source-file mode (JEP 330): java -cp 'jars/*' EnsureTopics.java
 *
 *   EnsureTopics BOOTSTRAP TIMEOUT_SEC TOPIC:PARTITIONS...
 *
 * Exit 0 when every topic exists, 1 when the cluster did not answer in time.
 */
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

public class EnsureTopics {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    long deadline = System.currentTimeMillis() + Long.parseLong(args[1]) * 1000L;
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "8000");
    try (Admin admin = Admin.create(p)) {
      Set<String> existing = null;
      while (existing == null) {
        try {
          existing = admin.listTopics().names().get(8, TimeUnit.SECONDS);
        } catch (Exception e) {
          if (System.currentTimeMillis() > deadline) {
            System.err.println("kafka at " + bootstrap + " did not answer: " + e.getMessage());
            System.exit(1);
          }
          Thread.sleep(500);
        }
      }
      List<NewTopic> missing = new ArrayList<>();
      for (int i = 2; i < args.length; i++) {
        String[] tp = args[i].split(":");
        if (!existing.contains(tp[0])) missing.add(new NewTopic(tp[0], Integer.parseInt(tp[1]), (short) 1));
      }
      if (!missing.isEmpty()) {
        for (Map.Entry<String, KafkaFuture<Void>> e : admin.createTopics(missing).values().entrySet()) {
          try {
            e.getValue().get(30, TimeUnit.SECONDS);
            System.out.println("created topic " + e.getKey());
          } catch (ExecutionException ex) {
            if (!(ex.getCause() instanceof TopicExistsException)) throw ex;
          }
        }
      }
    }
  }
}
